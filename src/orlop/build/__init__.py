"""Docker's classic builder: a Dockerfile and a context in, an image out.

``parser`` (Docker's own Dockerfile parser), ``words`` (variable substitution),
``ignore`` (.dockerignore), ``context`` (the build context), ``builder`` (the steps and
the cache), ``fs`` (COPY/ADD/WORKDIR layers), ``steps`` (RUN containers), ``cache``
(``builder prune``).  Everything is loaded only by a build.
"""
