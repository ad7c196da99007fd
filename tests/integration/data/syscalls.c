/* One raw syscall per name, its result as "NAME OK" or "NAME ERRNAME" (test_seccomp.py).
 * Built static so it runs in busybox.  Arguments are chosen so that nothing changes
 * outside the container even where the call is allowed: clock_settime names an invalid
 * clock (EINVAL comes before the CAP_SYS_TIME check, so EPERM can only be seccomp's),
 * bpf an invalid command, clone3 a NULL argument; PTRACE_SEIZE does not stop PID 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long call(const char *n) {
    struct timespec ts = {0, 0};
    if (!strcmp(n, "unshare-user")) return unshare(CLONE_NEWUSER);
    if (!strcmp(n, "unshare-mount")) return unshare(CLONE_NEWNS);
    if (!strcmp(n, "mount")) {
        mkdir("/sc-mnt", 0755);
        return mount("none", "/sc-mnt", "tmpfs", 0, NULL);
    }
    if (!strcmp(n, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
    if (!strcmp(n, "bpf")) return syscall(SYS_bpf, 9999, NULL, 0);
    if (!strcmp(n, "ptrace")) return ptrace(PTRACE_SEIZE, 1, NULL, NULL);  /* not our child */
    if (!strcmp(n, "kcmp")) return syscall(SYS_kcmp, 1, 1, 0 /* KCMP_FILE */, 0, 0);
    if (!strcmp(n, "clock_settime")) return syscall(SYS_clock_settime, 9999, &ts);
    if (!strcmp(n, "clone3")) return syscall(SYS_clone3, NULL, 0);
    if (!strcmp(n, "personality")) return syscall(SYS_personality, 0x0400000 /* ADDR_NO_RANDOMIZE */);
    if (!strcmp(n, "vsock")) return socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv) {
    /* Each call in its own child: one that succeeds (unshare) must not change what the
     * next one sees. */
    for (int i = 1; i < argc; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            errno = 0;
            long r = call(argv[i]);
            if (r == -2) {
                fprintf(stderr, "unknown call %s\n", argv[i]);
                _exit(2);
            }
            printf("%s %s\n", argv[i], r < 0 ? strerrorname_np(errno) : "OK");
            fflush(stdout);
            _exit(0);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0) return 2;
    }
    return 0;
}
