"""casebank's own span attribute names (everything of ours lives under `casebank.*`)."""

ENTRYPOINT = "casebank.entrypoint"  # "module:qualname" of a @casebank.trace function
INPUT = "casebank.input"  # JSON object: the arguments bound by parameter name
OUTPUT = "casebank.output"  # JSON: the return value
ERROR = "casebank.error"  # "ExcType: message" when the entry point raised
IS_ROOT = "casebank.root"  # True on the outermost @casebank.trace span of a trace
SCOPE = "casebank"  # instrumentation scope name of casebank's tracer
