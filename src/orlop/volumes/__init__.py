"""Volumes: the service (create/get/list/remove/prune/mount/unmount), the drivers and copy-up.

The entry point is :class:`orlop.volumes.service.VolumeService`; everything else here
serves it.  Modules are small and import nothing heavy, so ``orlop volume ls`` stays fast.
"""
