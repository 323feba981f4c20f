/*
 * The names of kmm's trace events (kmm/trace.h), as ftrace prints them.
 */
#include <kmm/trace.h>

const char *const kmm_trace_event_names[KMM_NR_TRACE_EVENTS] = {
#define X(e, name) name,
    KMM_TRACE_EVENTS(X)
#undef X
};
