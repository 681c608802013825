"""A protoc plugin (buf `local:`) that runs grpc_tools' built-in python and grpc_python generators.

grpcio-tools ships those generators inside its `protoc` only, not as `protoc-gen-*` binaries, so buf
cannot call them directly. This plugin hands buf's request to `grpc_tools.protoc` as a descriptor set
and returns what it writes.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc  # type: ignore[import-untyped]  # grpcio-tools ships no type hints

__all__ = ["main", "run"]


def _clear_json_names(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
    """Drop `json_name` from every field, nested messages included.

    buf's image fills `json_name` in; protoc alone does not. The serialized descriptor embedded in each
    `_pb2.py` would then differ from what `grpc_tools.protoc` writes from the .proto files, so clearing
    it keeps the Python output byte-identical whichever way it is generated.
    """
    stack = list(messages)
    while stack:
        message = stack.pop()
        stack.extend(message.nested_type)
        for field in [*message.field, *message.extension]:
            field.ClearField("json_name")


def run(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """Generate `*_pb2.py` and `*_pb2_grpc.py` for the request's files to generate."""
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    for proto in request.proto_file:
        _clear_json_names(proto.message_type)
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = Path(tmp, "in.binpb")
        descriptors.write_bytes(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = Path(tmp, "out")
        out.mkdir()
        grpc_options = f"{request.parameter}:" if request.parameter else ""
        arguments = [
            "protoc",
            f"--descriptor_set_in={descriptors}",
            f"--python_out={out}",
            f"--grpc_python_out={grpc_options}{out}",
            *request.file_to_generate,
        ]
        if protoc.main(arguments) != 0:
            response.error = "grpc_tools.protoc failed; its message is above"
            return response
        for path in sorted(out.rglob("*.py")):
            response.file.add(name=path.relative_to(out).as_posix(), content=path.read_text(encoding="utf-8"))
    return response


def main() -> int:
    """Read a CodeGeneratorRequest on stdin, write the CodeGeneratorResponse on stdout."""
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(run(request).SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
