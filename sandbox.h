/* sandbox: what the process may still do once the tunnel is up. */
#ifndef SANDBOX_H
#define SANDBOX_H

/*
 * SANDBOX_SANITIZED: a build with AddressSanitizer (and so LeakSanitizer),
 * by gcc or clang, UndefinedBehaviorSanitizer often alongside. Its filter
 * lets the runtime report from inside the sandbox; see sandbox.c. A
 * production build never has it.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif

int	sandbox_enter(void);

#endif
