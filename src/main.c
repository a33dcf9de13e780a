/* main.c - hark's command-line entry: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("hark %s\n", HARK_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: hark transcribe [options] FILE...\n");
    return 2;
}
