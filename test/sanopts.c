/*
 * Linked into the sanitizer build only (make sanitize: san/connectd and the
 * unit tests): the runtime's defaults, which ASAN_OPTIONS and UBSAN_OPTIONS
 * in the environment still override.
 *
 * An error is reported, then the process exits 86, a status connectd never
 * uses, so that no test can take a report for an answer. Reports are not
 * symbolized in the process (inside the sandbox it may not start
 * llvm-symbolizer); test/harness.py runs asan_symbolize over any report it
 * finds in connectd's stderr. color=never: no isatty() probe, plain logs.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *
__asan_default_options(void)
{
	return "exitcode=86:symbolize=0:color=never:detect_leaks=1:strict_string_checks=1:"
	    "check_initialization_order=1:detect_stack_use_after_return=1";
}

const char *
__ubsan_default_options(void)
{
	return "exitcode=86:symbolize=0:color=never:halt_on_error=1:print_stacktrace=1";
}
