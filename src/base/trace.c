/*
 * The trace events' names, systems and argument counts (kmm/trace.h), as
 * ftrace lists them (events/<system>/<name>).
 */
#include <kmm/trace.h>

const char *const kmm_trace_event_names[KMM_NR_TRACE_EVENTS] = {
#define X(e, sys, name, nargs) name,
    KMM_TRACE_EVENTS(X)
#undef X
};

const char *const kmm_trace_event_systems[KMM_NR_TRACE_EVENTS] = {
#define X(e, sys, name, nargs) sys,
    KMM_TRACE_EVENTS(X)
#undef X
};

const unsigned char kmm_trace_event_nargs[KMM_NR_TRACE_EVENTS] = {
#define X(e, sys, name, nargs) nargs,
    KMM_TRACE_EVENTS(X)
#undef X
};
