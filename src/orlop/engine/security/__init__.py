"""What confines a container beyond namespaces and capabilities: seccomp profiles,
``--security-opt`` values, namespaced sysctls.  Pure logic: it decides what goes into
the OCI spec; the runtime applies it."""
