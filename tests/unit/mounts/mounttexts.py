"""Docker's texts that the -v and --mount parsing tests both expect (importable from the
tests of this directory, which pytest puts on sys.path)."""

CWD = "/work/w"
INVALID_CHARS = (
    'create {n}: "{n}" includes invalid characters for a local volume name, only '
    '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
    "use absolute path"
)
