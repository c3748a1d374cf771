"""The peak RSS of a benchmark's child process, measured in the child (bench_restore, bench_handler).

``resource.getrusage(...).ru_maxrss`` would be wrong in a child: Linux carries the parent's peak
across fork and exec, so a child of a 1 GB benchmark reports at least 1 GB. ``VmHWM`` in
``/proc/self/status`` is the peak of the child's own process image.
"""

from __future__ import annotations

PEAK_RSS_KIB_SOURCE = (
    "def peak_rss_kib():\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "    import resource\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
)
"""Python source defining ``peak_rss_kib()`` for a child's ``-c`` code: VmHWM, else ru_maxrss."""
