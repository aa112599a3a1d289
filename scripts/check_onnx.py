"""Run the ONNX checker (full_check: types and shapes inferred) on every .onnx file named or found under the
given folders. Prints one line per file; exits 1 if any fails. Needs python3-onnx (Debian) or `pip install onnx`."""
import pathlib
import sys

import onnx

failed = 0
for arg in sys.argv[1:]:
    p = pathlib.Path(arg)
    for f in sorted(p.rglob("*.onnx")) if p.is_dir() else [p]:
        try:
            onnx.checker.check_model(onnx.load(str(f)), full_check=True)
            print(f"ok {f}")
        except Exception as e:  # the checker raises several exception types
            failed += 1
            print(f"FAIL {f}: {str(e).splitlines()[0][:300]}")
sys.exit(1 if failed else 0)
