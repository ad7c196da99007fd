"""Docker's JSON, both ways: the one place Orlop's typed objects become the Engine API's
dicts (inspect, list rows, ``/info``, ``/system/df``, create bodies, mounts, volumes,
networks) and such dicts become typed objects again (a create body -> ``RunOptions``, an
API mount -> ``MountSpec``).

Who uses it: the CLI's backends (the local one renders the engine's objects with it,
the remote one builds request bodies with it), orlopd's routes (responses and request
bodies), and the client (the API version it speaks).  So ``orlop ps`` prints one row
whether the engine runs in-process or behind ``-H``, and a body the CLI sends is read
back by the exact inverse of the function that wrote it.

Where it sits (pyproject's import-linter layers): below the faces (``cli``, ``server``)
and the client, above the engine and everything under it::

    cli | server
    client
    wire
    engine
    ...

Below the client because the client speaks the API version defined here
(:mod:`orlop.wire.version`); above the engine because rendering reads the engine's
records (a container's image, its mount points, its network endpoints).  The client
stays free of the engine all the same: a forbidden contract keeps every module it loads
off ``engine``, ``state``, ``volumes``, ``images``, ``network`` and the layers below, so
a module of this package that the client imports must be a leaf (``version``).
Nothing below imports this package: the engine hands out typed objects and never a
Docker dict.

This ``__init__`` imports nothing: each module loads on first use (the remote CLI
should not pay for the engine it never runs).
"""
