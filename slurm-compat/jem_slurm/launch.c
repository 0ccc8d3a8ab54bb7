/* jem-launch: the compiled front of the command launcher (launcher.py), the interpreter of each
 * `jem slurm-path` wrapper: `#!.../jem_slurm/jem-launch`.
 *
 * Why: a Python stub, even under `python -I -S`, spends ~10-12 ms starting the interpreter before it
 * can hand a call to the user's command server; this does the same hand-over in about a millisecond.
 * It does only the common case, a server that is up: it connects to the server's socket and sends the
 * request and the four descriptors exactly as launcher.py does (the wire format is in its docstring),
 * forwards the same signals to the command's child and exits with its status. Everything else (no
 * server yet, so this caller takes the key and starts one; a server that answers "restart" or goes
 * away; JEM_NO_SERVER; a runtime directory that is not the user's alone; a call that needs the
 * terminal; a `jem` command the server does not run) is left to the Python launcher: this execs
 * `PYTHON -IS WRAPPER ARGS...`, which is what the wrapper's first line used to say, and the wrapper's
 * Python body runs as it always did. Nothing has been sent to a server by then, so no call runs twice.
 *
 * The kernel runs it as `jem-launch WRAPPER ARGS...`; the wrapper's `#:` lines (comments to Python)
 * say what to run:
 *   #:command NAME      the command (sbatch, ..., or jem)
 *   #:key KEY           the server's key (launcher.server_key)
 *   #:python PATH       the interpreter of the fallback
 *   #:served WORD...    (jem only) the subcommands the server runs (jem.cli.main.SERVED_COMMANDS)
 *
 * The same executable is the installed `jem` (setup.py's build_scripts copies it into the scripts directory
 * under that name; it knows by the name of the file it runs from). Then it reads the `#:` lines of
 * `jem-python` beside it (the Python `jem`, whose `#!` line pip pointed at the installing interpreter)
 * and the server's key from the runtime directory's `installed-keys`, which that Python `jem` writes
 * (the key names the package's directory, which only Python knows). Its fallback runs `jem-python`
 * itself, by its own `#!` line.
 *
 * Not setuid and reading only what its caller names, it gives nobody anything they could not do. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define WRAPPER_MAX 16384
#define INSTALLED_NAME "jem"            /* the installed command (see above) */
#define INSTALLED_SCRIPT "jem-python"   /* the Python `jem` beside it */
#define INSTALLED_KEYS "installed-keys" /* in the runtime directory: "KEY<TAB>SCRIPT" lines */
#define MAX_CAUGHT 64

static const int FORWARDED_SIGNALS[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM};
#define N_FORWARDED (sizeof FORWARDED_SIGNALS / sizeof FORWARDED_SIGNALS[0])

static volatile sig_atomic_t child_pid = 0;
static volatile sig_atomic_t caught[MAX_CAUGHT];
static volatile sig_atomic_t n_caught = 0;

struct wrapper {
    char text[WRAPPER_MAX + 1];
    const char *command, *key, *python, *served;
    int installed;   /* the installed `jem`: the fallback runs the script itself */
};

static void forward(int signum)
{
    if (child_pid > 0) {
        int saved = errno;
        kill((pid_t)child_pid, signum);
        errno = saved;
    } else if (n_caught < MAX_CAUGHT) {
        caught[n_caught] = signum;
        n_caught = n_caught + 1;
    }
}

/* Exit with the child's code, or die of the signal that killed it. */
static void exit_like(int status)
{
    if (status >= 0)
        _exit(status & 0xff);
    int signum = -status;
    sigset_t set;
    signal(signum, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, signum);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), signum);
    _exit(128 + signum);
}

/* Hand the call to the Python launcher (the wrapper run by its interpreter), unless a signal came
 * first: then end as that signal would have, as launcher.py does before its command started. */
static void fall_back(const struct wrapper *w, const char *path, int argc, char **argv)
{
    if (n_caught > 0)
        exit_like(-caught[0]);
    if (w->installed) {   /* jem-python ARGS..., by its own #! line */
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (args == NULL)
            _exit(1);
        args[0] = (char *)path;
        for (int i = 0; i < argc; i++)
            args[1 + i] = argv[i];
        execv(path, args);
        fprintf(stderr, "jem: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    if (w->python == NULL) {
        fprintf(stderr, "jem-launch: %s names no interpreter (#:python)\n", path);
        _exit(1);
    }
    char **args = calloc((size_t)argc + 4, sizeof *args);   /* python -IS WRAPPER ARGS... NULL */
    if (args == NULL)
        _exit(1);
    args[0] = (char *)w->python;
    args[1] = "-IS";
    args[2] = (char *)path;
    for (int i = 0; i < argc; i++)
        args[3 + i] = argv[i];
    execv(w->python, args);
    fprintf(stderr, "jem-launch: cannot run %s: %s\n", w->python, strerror(errno));
    _exit(127);
}

/* Read the wrapper's `#:` lines; returns 0 when it names at least a command (and, unless it is the
 * installed `jem`'s script, whose key is recorded elsewhere, a key and an interpreter). */
static int read_wrapper(const char *path, struct wrapper *w, int installed)
{
    memset(w, 0, sizeof *w);
    w->installed = installed;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, w->text + have, WRAPPER_MAX - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == WRAPPER_MAX)
            break;
    }
    close(fd);
    w->text[have] = '\0';
    for (char *line = w->text; line && *line; ) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (line[0] == '#' && line[1] == ':') {
            char *value = strchr(line + 2, ' ');
            if (value) {
                *value++ = '\0';
                const char *name = line + 2;
                if (strcmp(name, "command") == 0) w->command = value;
                else if (strcmp(name, "key") == 0) w->key = value;
                else if (strcmp(name, "python") == 0) w->python = value;
                else if (strcmp(name, "served") == 0) w->served = value;
            }
        }
        line = end ? end + 1 : NULL;
    }
    if (installed)
        return w->command ? 0 : -1;
    return w->command && w->key && w->python ? 0 : -1;
}

/* Whether this executable is the installed `jem`; then `script` is the jem-python beside it. */
static int installed_script(char *script, size_t size)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1)
        return 0;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL || strcmp(slash + 1, INSTALLED_NAME) != 0)
        return 0;
    *slash = '\0';
    int written = snprintf(script, size, "%s/%s", self, INSTALLED_SCRIPT);
    return written > 0 && (size_t)written < size;
}

static int is_key(const char *text, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')
              || (text[i] >= '0' && text[i] <= '9') || text[i] == '-'))
            return 0;
    return 1;
}

/* The installed `jem`'s key: the line "KEY<TAB>SCRIPT" of DIRECTORY/installed-keys (the Python `jem`
 * writes it, in the caller's own runtime directory); copied into `key`, or -1 when there is none. */
static int recorded_key(const char *directory, const char *script, char *key, size_t size)
{
    char path[4096], text[WRAPPER_MAX + 1];
    if (snprintf(path, sizeof path, "%s/%s", directory, INSTALLED_KEYS) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, text + have, WRAPPER_MAX - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (have += (size_t)n) == WRAPPER_MAX)
            break;
    }
    close(fd);
    text[have] = '\0';
    for (char *line = text; line && *line; ) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *tab = strchr(line, '\t');
        if (tab && strcmp(tab + 1, script) == 0 && is_key(line, (size_t)(tab - line)) && (size_t)(tab - line) < size) {
            memcpy(key, line, (size_t)(tab - line));
            key[tab - line] = '\0';
            return 0;
        }
        line = end ? end + 1 : NULL;
    }
    return -1;
}

static int is_private_dir(const char *path, uid_t uid)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 077);
}

/* launcher.runtime_dir: $JEM_RUNTIME_DIR, else $XDG_RUNTIME_DIR/jem when that is the user's alone,
 * else /tmp/jem-UID; made 0700; NULL unless it is a directory of this user's alone. */
static int runtime_dir(char *out, size_t size)
{
    uid_t uid = getuid();
    const char *explicit_dir = getenv("JEM_RUNTIME_DIR");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (explicit_dir && *explicit_dir)
        n = snprintf(out, size, "%s", explicit_dir);
    else if (xdg && *xdg && is_private_dir(xdg, uid))
        n = snprintf(out, size, "%s/jem", xdg);
    else
        n = snprintf(out, size, "/tmp/jem-%u", (unsigned)uid);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return -1;
    return is_private_dir(out, uid) ? 0 : -1;
}

static int has_word(const char *words, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = words; p && *p; ) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && n > 0 && strncmp(p, word, n) == 0)
            return 1;
        p = end;
    }
    return 0;
}

/* launcher.needs_the_terminal: salloc's shell and srun --pty on a terminal run in the caller. */
static int needs_the_terminal(const char *command, int argc, char **argv)
{
    if (!isatty(0))
        return 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(command, "salloc") == 0 && strcmp(argv[i], "--no-shell") == 0)
            return 0;
        if (strcmp(command, "srun") == 0 && (strcmp(argv[i], "--pty") == 0 || strncmp(argv[i], "--pty=", 6) == 0))
            return 1;
    }
    return strcmp(command, "salloc") == 0;
}

/* jem.cli.main.is_served: no arguments, an option first, or a served subcommand. */
static int is_served(const struct wrapper *w, int argc, char **argv)
{
    if (w->served == NULL)
        return 1;
    return argc == 0 || argv[0][0] == '-' || has_word(w->served, argv[0]);
}

struct buffer {
    char *data;
    size_t len, cap;
};

static int append(struct buffer *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static int append_field(struct buffer *b, const char *text, int first)
{
    return (first ? 0 : append(b, "", 1)) | append(b, text, strlen(text));
}

/* launcher._request: length + NUL-joined command, umask, ignored signals, n_args, args, env. */
static int build_request(struct buffer *b, const char *command, const char *ignored, int argc, char **argv)
{
    char number[32];
    mode_t mask = umask(022);
    umask(mask);
    int failed = append(b, "\0\0\0\0", 4) | append_field(b, command, 1);
    snprintf(number, sizeof number, "%u", (unsigned)mask);
    failed |= append_field(b, number, 0) | append_field(b, ignored, 0);
    snprintf(number, sizeof number, "%d", argc);
    failed |= append_field(b, number, 0);
    for (int i = 0; i < argc; i++)
        failed |= append_field(b, argv[i], 0);
    for (char **env = environ; *env; env++)
        if (strchr(*env, '=') != NULL && **env != '=')   /* as Python's os.environ reads them */
            failed |= append_field(b, *env, 0);
    if (failed || b->len - 4 > UINT32_MAX)
        return -1;
    uint32_t body = (uint32_t)(b->len - 4);
    unsigned char *p = (unsigned char *)b->data;
    p[0] = body & 0xff; p[1] = (body >> 8) & 0xff; p[2] = (body >> 16) & 0xff; p[3] = (body >> 24) & 0xff;
    return 0;
}

/* Up to n bytes: fewer when the server closed or reset the connection. */
static size_t read_reply(int sock, unsigned char *out, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t got = recv(sock, out + have, n - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    return have;
}

static int32_t little_endian(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* Send the request with the descriptors; returns 0 when all of it went. */
static int send_request(int sock, const struct buffer *b, int cwd_fd)
{
    int fds[4] = {0, 1, 2, cwd_fd};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = b->data, .iov_len = 4};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    ssize_t sent;
    do
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -1;
    for (size_t off = (size_t)sent; off < b->len; ) {
        ssize_t n = send(sock, b->data + off, b->len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct wrapper w;
    static char script[4096];
    const char *path;
    int n_args;
    char **args;
    if (installed_script(script, sizeof script)) {
        path = script;
        n_args = argc - 1;
        args = argv + 1;
        if (read_wrapper(path, &w, 1) != 0) {
            fprintf(stderr, "jem: %s is missing or is not JEM's (reinstall JEM)\n", path);
            return 2;
        }
    } else {
        if (argc < 2) {
            fprintf(stderr, "jem-launch: the interpreter of a `jem slurm-path` wrapper, not a command\n");
            return 2;
        }
        path = argv[1];
        n_args = argc - 2;
        args = argv + 2;
        if (read_wrapper(path, &w, 0) != 0) {
            fprintf(stderr, "jem-launch: %s is not a JEM wrapper\n", path);
            return 2;
        }
    }

    /* The signals to pass on, caught from before the connect; one inherited as ignored stays ignored
     * here and is named to the server, which ignores it in the command too. */
    char ignored[64] = "";
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < N_FORWARDED; i++) {
        struct sigaction previous;
        sigaction(FORWARDED_SIGNALS[i], NULL, &previous);
        if (previous.sa_handler == SIG_IGN) {
            size_t used = strlen(ignored);
            snprintf(ignored + used, sizeof ignored - used, "%s%d", used ? "," : "", FORWARDED_SIGNALS[i]);
        } else {
            sigaction(FORWARDED_SIGNALS[i], &action, NULL);
        }
    }

    const char *no_server = getenv("JEM_NO_SERVER");
    if ((no_server && *no_server && strcmp(no_server, "0") != 0)
            || needs_the_terminal(w.command, n_args, args) || !is_served(&w, n_args, args))
        fall_back(&w, path, n_args, args);

    char directory[4096], key[80];
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    struct stat st;
    if (runtime_dir(directory, sizeof directory) != 0)
        fall_back(&w, path, n_args, args);
    if (w.installed) {
        if (recorded_key(directory, path, key, sizeof key) != 0)
            fall_back(&w, path, n_args, args);   /* first call: the Python jem records it */
        w.key = key;
    }
    if (snprintf(address.sun_path, sizeof address.sun_path, "%s/%s.sock", directory, w.key)
               >= (int)sizeof address.sun_path
            || fstat(0, &st) != 0 || fstat(1, &st) != 0 || fstat(2, &st) != 0)
        fall_back(&w, path, n_args, args);
    int cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct buffer request = {0};
    if (cwd_fd < 0 || build_request(&request, w.command, ignored, n_args, args) != 0)
        fall_back(&w, path, n_args, args);

    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;
    do
        rc = sock < 0 ? -1 : connect(sock, (struct sockaddr *)&address, sizeof address);
    while (rc != 0 && errno == EINTR);
    if (rc != 0 || send_request(sock, &request, cwd_fd) != 0)
        fall_back(&w, path, n_args, args);   /* no server, or it went: nothing ran */

    unsigned char reply[5];
    if (read_reply(sock, reply, 5) < 5 || reply[0] != 'P')
        fall_back(&w, path, n_args, args);   /* "restart", or it stopped first: nothing ran */
    child_pid = little_endian(reply + 1);
    for (sig_atomic_t i = 0; i < n_caught; i++)
        kill((pid_t)child_pid, caught[i]);
    if (read_reply(sock, reply, 5) < 5 || reply[0] != 'X') {
        static const char message[] = "jem: the command server ended before the command did\n";
        ssize_t ignored_rc = write(2, message, sizeof message - 1);
        (void)ignored_rc;
        return 1;
    }
    exit_like(little_endian(reply + 1));
    return 1;
}
