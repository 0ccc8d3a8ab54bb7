"""Generate (or check) the committed gRPC/protobuf modules in jem/v1 from proto/jem/v1.

    python tools/gen_proto.py          # regenerate jem/v1/*_pb2*.py and *.pyi
    python tools/gen_proto.py --check  # exit 1 if the committed files are stale

The generator is pinned (grpcio-tools==GRPCIO_TOOLS_VERSION) so every machine
writes byte-identical files; the check refuses to run with another version.
"""

import argparse
import filecmp
import pathlib
import sys
import tempfile

GRPCIO_TOOLS_VERSION = "1.85.1"
ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_PACKAGE = ROOT / "jem" / "v1"
HEADER = "# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.\n"


def _protoc(out_dir: pathlib.Path) -> None:
    from grpc_tools import protoc  # imported late: only this tool needs it
    import grpc_tools

    import google.api.annotations_pb2   # googleapis-common-protos: google/api/*.proto beside its modules

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "jem" / "v1").glob("*.proto"))
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    google_api = pathlib.Path(google.api.annotations_pb2.__file__).parents[2]   # (the directory holding google/)
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"-I{google_api}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        sys.exit("gen_proto: protoc failed")
    for path in (out_dir / "jem" / "v1").iterdir():
        path.write_text(HEADER + path.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if jem/v1 is stale")
    args = parser.parse_args()
    from importlib.metadata import version

    have = version("grpcio-tools")
    if have != GRPCIO_TOOLS_VERSION:
        sys.exit(f"gen_proto: need grpcio-tools=={GRPCIO_TOOLS_VERSION}, found {have}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = pathlib.Path(tmp)
        _protoc(tmp_dir)
        generated = sorted((tmp_dir / "jem" / "v1").iterdir())
        if args.check:
            stale = [p.name for p in generated
                     if not (OUT_PACKAGE / p.name).exists()
                     or not filecmp.cmp(p, OUT_PACKAGE / p.name, shallow=False)]
            if stale:
                print("gen_proto: stale generated files: " + ", ".join(stale), file=sys.stderr)
                return 1
            return 0
        OUT_PACKAGE.mkdir(parents=True, exist_ok=True)
        for path in generated:
            (OUT_PACKAGE / path.name).write_text(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
