// Command protovalidate prints buf/validate/validate.proto, protovalidate's rule definitions,
// into third_party/protovalidate from the descriptor compiled into the Go module
// buf.build/go/protovalidate uses. No artifact reachable here ships the .proto file itself and
// the Buf Schema Registry is out of reach, so this is how buf lint and buf generate resolve
// the import. Run it from the repository root when protovalidate's version changes:
//
//	go run -C tools/protovalidate . ../../third_party/protovalidate
package main

import (
	"fmt"
	"os"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoprint"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: protovalidate <output directory>")
		os.Exit(2)
	}
	fd, err := desc.WrapFile(validatepb.File_buf_validate_validate_proto)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := (&protoprint.Printer{}).PrintProtosToFileSystem([]*desc.FileDescriptor{fd}, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
