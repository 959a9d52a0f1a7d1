"""Rebuild graph/static/graphiql/ from the npm registry, byte for byte.

Run: python tools/vendor_graphiql.py   (needs `npm` and the npm registry; nothing else does)

GraphiQL's page loaded React, GraphiQL and its explorer plugin from a CDN, so on a network
without internet it said "Loading..." for ever. The files it needs are copied here, as
published, from the packages below: `npm pack` fetches each tarball, its integrity is
checked against the one pinned here, and the listed files are copied out unchanged with
the package's licence. SOURCES.json records what was taken, and each file's sha256, which
tests/test_graphiql.py checks against the committed files. Nothing is built, so the same
packages give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "graph" / "static" / "graphiql"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # npm's sha512 of the tarball
    licence: str  # SPDX, from its package.json
    # Path inside the tarball's `package/` -> name written here.
    files: dict[str, str]
    # The licence text's path in the tarball, when it ships one.
    licence_file: str | None


PACKAGES = (
    Package(
        "react",
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        "MIT",
        {"umd/react.production.min.js": "react.production.min.js"},
        "LICENSE",
    ),
    Package(
        "react-dom",
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        "MIT",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js"},
        "LICENSE",
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        "MIT",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"},
        "LICENSE",
    ),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
        "MIT",
        {
            "dist/index.umd.js": "graphiql-plugin-explorer.umd.js",
            "dist/style.css": "graphiql-plugin-explorer.css",
        },
        None,  # the tarball has none; its package.json says MIT (see SOURCES.json)
    ),
)


def fetched(package: Package, into: Path) -> Path:
    """The package's tarball, fetched by npm and checked against the pinned integrity."""
    done = subprocess.run(
        [
            "npm",
            "pack",
            f"{package.name}@{package.version}",
            "--json",
            "--pack-destination",
            str(into),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [described] = json.loads(done.stdout)
    tarball: Path = into / str(described["filename"])
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != package.integrity:
        raise SystemExit(
            f"{package.name}@{package.version}: integrity {digest}, expected {package.integrity}"
        )
    return tarball


def main() -> None:
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to fetch the packages")
    sources: list[dict[str, object]] = []
    copied = 0
    with tempfile.TemporaryDirectory() as directory:
        for package in PACKAGES:
            tarball = fetched(package, Path(directory))
            written: dict[str, str] = {}
            with tarfile.open(tarball) as archive:
                wanted = dict(package.files)
                if package.licence_file is not None:
                    wanted[package.licence_file] = (
                        f"LICENSE.{package.name.replace('/', '-').lstrip('@')}"
                    )
                for inside, name in wanted.items():
                    member = archive.extractfile(f"package/{inside}")
                    if member is None:
                        raise SystemExit(f"{package.name}: no {inside} in the tarball")
                    data = member.read()
                    (TARGET / name).write_bytes(data)
                    written[name] = hashlib.sha256(data).hexdigest()
                    copied += 1
            sources.append(
                {
                    "package": package.name,
                    "version": package.version,
                    "tarball": (
                        f"https://registry.npmjs.org/{package.name}/-/"
                        f"{package.name.rsplit('/', 1)[-1]}-{package.version}.tgz"
                    ),
                    "integrity": package.integrity,
                    "licence": package.licence,
                    "files": written,
                }
            )
    (TARGET / "SOURCES.json").write_text(json.dumps(sources, indent=2) + "\n")
    print(f"wrote {copied} files to {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()
