# Before the schema: a key of an earlier config gets a message naming where it moved.
import sys

from snakemake.exceptions import WorkflowError

sys.path.insert(0, workflow.basedir)

from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_moved_keys

try:
    check_moved_keys(config)
except WeaksegError as error:
    raise WorkflowError(str(error)) from None
