"""Transfer packages: export records to one ZIP, and check a ZIP with no database at all.

:mod:`~archive.package.layout` is the package's layout, :mod:`~archive.package.export`
writes one, :mod:`~archive.package.check` verifies one offline (checksums, completeness,
every signature) and returns a :class:`PackageReport`. Backup and restore of the whole
archive are :mod:`archive.backup`. Callers import from here::

    from archive.package import ExportFilters, check_package, export_package

    export_package(engine, store, "out.zip", ExportFilters(college="信息工程学院"))
    report = check_package("out.zip", trust_roots=[root])
"""

from __future__ import annotations

from .check import PackageReport, RecordCheck, SignatureCheck, TrustRootSource, check_package
from .export import ExportFilters, ExportSummary, export_package
from .layout import PACKAGE_FORMAT

__all__ = [
    "PACKAGE_FORMAT",
    "ExportFilters",
    "ExportSummary",
    "PackageReport",
    "RecordCheck",
    "SignatureCheck",
    "TrustRootSource",
    "check_package",
    "export_package",
]
