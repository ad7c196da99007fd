"""The Docker Engine API versions Orlop speaks (and Go's architecture names): the client
asks for ``API_VERSION`` in every URL, orlopd serves it (and accepts requests down to
``MIN_API_VERSION``), and ``orlop version`` prints it for both halves.  One constant, so
that the two never drift.

docker-compose 1.29 pins old API versions (1.25 to 1.38, after its file format) and
skopeo's ``docker-daemon:`` transport speaks 1.22, so older versions are accepted down to
dockerd 20.10's floor (its ``MinVersion`` is 1.12); the wire shapes served are those of
1.41 to 1.45, which those clients read as well.

A leaf: the client imports it, and must load nothing of the engine with it.
"""

from __future__ import annotations

API_VERSION = "1.45"
MIN_API_VERSION = "1.12"

# Go's names for the machine (``Arch`` of ``/version``, for both halves of ``orlop version``).
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64"}

__all__ = ["API_VERSION", "GOARCH", "MIN_API_VERSION"]
