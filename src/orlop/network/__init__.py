"""Networks (Docker's bridge driver) and each container's endpoints, IPAM, published
ports, and the DNS/hosts files; the kernel side is delegated to netavark + aardvark-dns
(see docs/networking.md)."""
