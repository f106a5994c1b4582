"""nianbao's API for analysts: `import nianbao; nianbao.load(path)`.

The wheel installs this file a second time as the top-level module `nianbao` (pyproject's
force-include), so that the distribution's name imports; an editable install copies it there once.
It only names what lives elsewhere, so that copy never goes stale: add to it by name, not by code.
"""

from flows.release.frames import Release, load

__all__ = ["Release", "load"]
