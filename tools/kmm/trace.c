#include "cli.h"
int cmd_trace(int argc, char **argv)
{
	return KMM_EXIT_USAGE;
}
