"""The dtype objects (ranvier.float32, ...) and their PyTorch-style aliases."""
from ranvier._C import dtype as _dtype

_dtype.__repr__ = lambda self: "ranvier." + self.name
_dtype.__str__ = _dtype.__repr__

float32 = _dtype.float32
float64 = _dtype.float64
float16 = _dtype.float16
bfloat16 = _dtype.bfloat16
int64 = _dtype.int64
int32 = _dtype.int32
uint8 = _dtype.uint8
bool = _dtype.bool
float = float32
double = float64
half = float16
long = int64
int = int32

ALL = (float32, float64, float16, bfloat16, int64, int32, uint8, bool)
