/* sandbox: what the process may still do once the tunnel is up. */
#ifndef SANDBOX_H
#define SANDBOX_H

int	sandbox_enter(void);

#endif
