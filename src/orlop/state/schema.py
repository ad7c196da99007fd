"""The versioned schema: one SQL script per step, applied one step at a time.

A database at version N is migrated by running MIGRATIONS[N], MIGRATIONS[N+1], ...
each in its own IMMEDIATE transaction together with the bump of ``user_version``,
so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE layers (
        diff_id   TEXT PRIMARY KEY,          -- sha256:<hex> of the uncompressed tar
        size      INTEGER NOT NULL,          -- bytes of the uncompressed tar
        content_size INTEGER NOT NULL DEFAULT 0, -- bytes of files + symlink targets (Docker's Size)
        created   TEXT NOT NULL
    );
    CREATE TABLE images (
        id        TEXT PRIMARY KEY,          -- sha256:<hex> of the image config JSON
        config    TEXT NOT NULL,             -- the OCI/Docker image config JSON
        created   TEXT NOT NULL,
        size      INTEGER NOT NULL,
        last_tag_time TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z'  -- Metadata.LastTagTime
    );
    CREATE TABLE image_layers (
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,          -- 0 = bottom layer
        diff_id   TEXT NOT NULL REFERENCES layers(diff_id),
        PRIMARY KEY (image_id, position)
    );
    CREATE TABLE image_tags (
        ref       TEXT PRIMARY KEY,          -- normalised "repository:tag"
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,        -- 64 hex
        name        TEXT NOT NULL UNIQUE,    -- without the leading "/"
        image_id    TEXT NOT NULL REFERENCES images(id),
        image_ref   TEXT NOT NULL,           -- what the user typed (Config.Image)
        created     TEXT NOT NULL,
        config      TEXT NOT NULL,           -- JSON of the container's create config
        host_config TEXT NOT NULL,           -- JSON of the container's host config
        -- creating (see Engine.create_container)|created|running|paused|restarting|exited|dead
        status      TEXT NOT NULL,
        pid         INTEGER NOT NULL DEFAULT 0,
        exit_code   INTEGER NOT NULL DEFAULT 0,
        started_at  TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
        finished_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
        error       TEXT NOT NULL DEFAULT '',
        runtime     TEXT NOT NULL,
        restart_count INTEGER NOT NULL DEFAULT 0,   -- restarts done by the monitor's policy
        oom_killed  INTEGER NOT NULL DEFAULT 0,     -- the last exit was an OOM kill
        -- stop/kill asked for this container to end: the restart policy must not revive it
        manually_stopped INTEGER NOT NULL DEFAULT 0,
        -- While status is 'creating': JSON list of the anonymous volumes the creator is
        -- making, written before each is created, so reconcile() can remove them if the
        -- creator dies (a killed `create` leaves no volume no one knows about).
        creating_volumes TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE volumes (
        name        TEXT PRIMARY KEY,
        driver      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        labels      TEXT,                    -- JSON object, or NULL as Docker reports it
        options     TEXT,                    -- JSON object, or NULL
        anonymous   INTEGER NOT NULL DEFAULT 0,
        mount_count INTEGER NOT NULL DEFAULT 0
    );
    -- A container's mount points.  A row that names a volume is a reference to it:
    -- the foreign key makes "remove a volume that a container uses" impossible even
    -- for a racing process, whatever the Python code checked before.
    CREATE TABLE mount_points (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        destination  TEXT NOT NULL,
        position     INTEGER NOT NULL,
        type         TEXT NOT NULL,          -- volume|bind|tmpfs
        volume_name  TEXT REFERENCES volumes(name) ON DELETE RESTRICT,
        spec         TEXT NOT NULL,          -- JSON of the MountPoint
        PRIMARY KEY (container_id, destination)
    );
    CREATE INDEX mount_points_volume ON mount_points(volume_name);
    -- Who currently has a volume's driver mount in use (VolumeService.mount/unmount):
    -- one row per (volume, reference), so mount() and unmount() are idempotent per
    -- reference and reconcile() can drop the references of containers that are gone.
    -- volumes.mount_count is kept equal to the number of rows, for cheap reads.
    CREATE TABLE volume_mounts (
        volume_name TEXT NOT NULL REFERENCES volumes(name) ON DELETE RESTRICT,
        ref         TEXT NOT NULL,           -- a container id
        PRIMARY KEY (volume_name, ref)
    );
    """,
    # 1 -> 2: RepoDigests, "repository@sha256:<manifest digest>" recorded by pull and push.
    """
    CREATE TABLE image_digests (
        ref       TEXT PRIMARY KEY,          -- familiar "repository@sha256:<hex>"
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    """,
    # 2 -> 3: networks (network/): the networks and each container's endpoints on them.
    """
    CREATE TABLE networks (
        id        TEXT PRIMARY KEY,          -- 64 hex
        name      TEXT NOT NULL UNIQUE,
        driver    TEXT NOT NULL,             -- bridge (host and null are not stored)
        subnet    TEXT NOT NULL,             -- IPv4 CIDR
        gateway   TEXT NOT NULL,
        ip_range  TEXT NOT NULL DEFAULT '',  -- CIDR inside subnet the pool allocates from
        internal  INTEGER NOT NULL DEFAULT 0,
        dns       INTEGER NOT NULL DEFAULT 1, -- aardvark-dns resolves names (user networks)
        interface TEXT NOT NULL UNIQUE,      -- the host's bridge interface name
        labels    TEXT NOT NULL DEFAULT '{}',
        options   TEXT NOT NULL DEFAULT '{}',
        created   TEXT NOT NULL
    );
    -- A container's endpoint on a network.  The unique (network, ip) makes a duplicate
    -- address impossible even for concurrent `run`s; the RESTRICT key makes removing a
    -- network in use impossible; the CASCADE frees the address with the container.
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE RESTRICT,
        endpoint_id  TEXT NOT NULL,
        ip           TEXT NOT NULL,
        mac          TEXT NOT NULL DEFAULT '',
        aliases      TEXT NOT NULL DEFAULT '[]',
        static_ip    INTEGER NOT NULL DEFAULT 0,
        position     INTEGER NOT NULL DEFAULT 0,   -- eth<position> in the container
        PRIMARY KEY (container_id, network_id),
        UNIQUE (network_id, ip)
    );
    CREATE INDEX endpoints_network ON endpoints(network_id);
    """,
    # 3 -> 4: the warm pool (engine/net/pool.py): addresses of namespaces set up ahead of
    # time on the default bridge.  Not endpoints (no container owns them yet): a start
    # adopts one by deleting its row and moving the address to its own endpoint in one
    # transaction; allocation treats both tables as taken.
    """
    CREATE TABLE netpool (
        slot       TEXT PRIMARY KEY,         -- 64 hex, netavark's container id for it
        network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        ip         TEXT NOT NULL,
        mac        TEXT NOT NULL,
        UNIQUE (network_id, ip)
    );
    """,
    # 4 -> 5: container links (engine/net/links.py).  A legacy link (``--link`` on the
    # default bridge) names its target by id: the link follows a rename of either
    # container, and goes with either one's removal, as dockerd's link index does.  An
    # endpoint's ``Links`` (a user network) keep the target's name as given (dockerd
    # resolves it when asked) and go with the endpoint (disconnect, removal).
    """
    CREATE TABLE legacy_links (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        alias        TEXT NOT NULL,          -- the name the linking container uses
        target_id    TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (container_id, alias)
    );
    CREATE INDEX legacy_links_target ON legacy_links(target_id);
    CREATE TABLE endpoint_links (
        container_id TEXT NOT NULL,
        network_id   TEXT NOT NULL,
        position     INTEGER NOT NULL,       -- the order given
        target       TEXT NOT NULL,          -- the target container's name, as given
        alias        TEXT NOT NULL,
        PRIMARY KEY (container_id, network_id, position),
        FOREIGN KEY (container_id, network_id)
            REFERENCES endpoints(container_id, network_id) ON DELETE CASCADE
    );
    CREATE INDEX endpoint_links_network ON endpoint_links(network_id);
    """,
    # 5 -> 6: IPv6 networks, auxiliary addresses, an endpoint's IPv6 address, link-local
    # addresses and driver options (network/service.py).  A partial unique index makes a
    # duplicate IPv6 address impossible, as UNIQUE (network_id, ip) does for IPv4.
    """
    ALTER TABLE networks ADD COLUMN ipv6 INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE networks ADD COLUMN subnet6 TEXT NOT NULL DEFAULT '';
    ALTER TABLE networks ADD COLUMN gateway6 TEXT NOT NULL DEFAULT '';
    ALTER TABLE networks ADD COLUMN gateway6_given INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE networks ADD COLUMN ip_range6 TEXT NOT NULL DEFAULT '';
    ALTER TABLE networks ADD COLUMN aux_addresses TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE networks ADD COLUMN aux_addresses6 TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE networks ADD COLUMN ipam_options TEXT NOT NULL DEFAULT '{}'; -- or 'null'
    ALTER TABLE endpoints ADD COLUMN ip6 TEXT NOT NULL DEFAULT '';
    ALTER TABLE endpoints ADD COLUMN static_ip6 INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE endpoints ADD COLUMN link_local_ips TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE endpoints ADD COLUMN driver_opts TEXT NOT NULL DEFAULT '{}';
    CREATE UNIQUE INDEX endpoints_ip6 ON endpoints(network_id, ip6) WHERE ip6 != '';
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
