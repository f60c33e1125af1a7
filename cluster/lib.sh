# Shared by the cluster scripts (sourced, not run).

# spawn_detached LOG CMD...: starts CMD in the background with stdin from /dev/null, output
# appended to LOG, and every other inherited file descriptor closed, so the node never holds
# a pipe or socket of whoever started the script (a test runner waiting for the script's end
# would otherwise wait for the node too). Prints the pid.
spawn_detached() {
    local log="$1"; shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
        done
        exec nohup "$@" </dev/null >>"$log" 2>&1
    ) &
    echo $!
}
