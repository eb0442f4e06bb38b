/* connectd: limits and defaults, in one place. */
#ifndef CONNECTD_H
#define CONNECTD_H

#define HEAD_MAX	8192	/* request head incl. blank line, and a PROXY header before it (RFC 9112 s2.3: server chooses) */
#define FIELDS_MAX	64	/* header lines in one head */
#define HOST_MAX	253	/* DNS name length (RFC 1035 s2.3.4, without the final dot) */
#define LABEL_MAX	63	/* DNS label length (RFC 1035 s2.3.4) */
#define V6TEXT_MAX	45	/* textual IPv6 address inside brackets (RFC 3986 s3.2.2) */
#define PORTS_MAX	64	/* port specs on the command line */
#define RULES_MAX	64	/* -a and -d rules together */
#define NAMES_MAX	256	/* -A and -D rules together */
#define PATTERN_MAX	(2 + HOST_MAX + 1)	/* -A, -D: "*." and a name with a final dot */
#define ADDRS_MAX	16	/* allowed addresses of one name that are tried (all are judged) */
#define LOGTEXT_MAX	255	/* client bytes in a log field before it is cut */
#define ADDRTEXT_MAX	64	/* an address and port as text: "[v6]:65535" and its NUL */
#define LOGFIELD_SIZE	(4 * LOGTEXT_MAX + 8)	/* such a field escaped: 4 a byte, "...", NUL */
#define LINGER_SECS	2	/* reading what a refused client still sends */
#define CHECK_INPUT	512	/* bytes on a checker's descriptor 3 (the checkpassword interface) */
#define AUTH_MAX	499	/* user:password, decoded: with two NULs and a 10-digit time, CHECK_INPUT */
#define AUTH_B64_MAX	668	/* base64 text of AUTH_MAX bytes (RFC 4648 s4) */
#define REALM_MAX	128	/* -r: characters of the realm */
#define BALANCERS_MAX	16	/* -H networks */
#define PROXY_V1_MAX	107	/* PROXY v1 line incl. CRLF (proxy-protocol.txt s2.1) */
#define PROXY_V2_FIXED	16	/* PROXY v2 fixed part; its length field counts the rest (s2.2) */

#define DEF_PORTS	"443", "563"	/* Apache's AllowCONNECT default */
#define DEF_CONNECT	10	/* -c: resolve and connect, seconds */
#define DEF_DELAY	250	/* -e: ms between connection attempts (RFC 8305 s5: 250 recommended) */
#define DELAY_MIN	10	/* smallest -e but 0 (RFC 8305 s5: at least 10 ms) */
#define DELAY_MAX	2000	/* largest -e (RFC 8305 s5: at most 2 s) */
#define ATTEMPTS_MAX	4	/* connection attempts under way at once */
#define DEF_HEAD	15	/* -t: whole request head, seconds */
#define DEF_IDLE	300	/* -i: tunnel idle timeout, seconds; 0 = none */
#define DEF_USER	"nobody"	/* -u: user to become when started as root */
#define ID_MAX		4294967294UL	/* -u uid:gid: the largest id; the next is (uid_t)-1, "no change" */
#define DEF_REALM	"connectd"	/* -r: the realm of Proxy-Authenticate (RFC 9110 s11.5) */
#define CHECK_NEXT	"/bin/true"	/* a checker's one argument: what it runs on success */
#define SECS_MAX	3600	/* largest -c and -t */
#define IDLE_MAX	86400	/* largest -i */

/*
 * For a file's small variables that every connection writes: kept in .data,
 * beside the C library's own, whose page every process writes anyway (the
 * kernel clears its end past .data at exec), and not in a .bss page of their
 * own. Only for variables of a few bytes, and the log line's buffer (written
 * only as far as a line goes): .data is in the file.
 */
#define INDATA	__attribute__((section(".data")))

#define RELAY_BUF	65536	/* bytes buffered per direction when a pipe is an end */
#define PIPE_DEFAULT	65536	/* a new pipe's size: the kernel's 16 pages (pipe(7)) */
#ifndef RELAY_PIPE	/* a test build makes it small */
#define RELAY_PIPE	PIPE_DEFAULT	/* pipe size per direction for splice() between sockets: left as it is made */
#define RELAY_PIPE_BULK	1048576	/* its size once one read filled it (a bulk direction), where the kernel allows */
#else
#define RELAY_PIPE_BULK	RELAY_PIPE	/* the test build's pipes stay small */
#endif

/* Exit codes, after ucspi-tcp. */
enum {
	EXIT_DONE = 0,		/* a tunnel ran and ended */
	EXIT_CLIENT = 1,	/* refused for the client's reason (4xx) */
	EXIT_USAGE = 100,	/* usage or configuration error */
	EXIT_TEMP = 111		/* temporary failure (5xx, I/O) */
};

/* HTTP statuses that connectd answers with (RFC 9110 s15). */
enum status {
	ST_MORE = 0,		/* parser: the head is not complete yet */
	ST_OK = 200,
	ST_BAD = 400,
	ST_FORBIDDEN = 403,
	ST_METHOD = 405,
	ST_AUTH = 407,
	ST_TIMEOUT = 408,
	ST_TOOLARGE = 431,
	ST_INTERNAL = 500,
	ST_BADGATEWAY = 502,
	ST_GWTIMEOUT = 504,
	ST_VERSION = 505
};

#endif
