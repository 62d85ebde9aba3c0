"""A stage's contract with its rule: one JSON value of its parameters, one of its named files.

Every rule runs the same shell line (:data:`SHELL`): ``python scripts/<rule>.py <call>
<files>``. ``<call>`` is one JSON object built by
:meth:`Stage.call_json` from the config and the job's wildcards: the rule's one configuration
``params`` value, so an edit of any config value the stage reads, and only of those, reruns the
rule. ``<files>`` (:func:`files_json`) names the job's inputs and outputs; Snakemake leaves
params derived from files out of its rerun check, as their change is an input change already.
Each stage module (``weakseg/ops/stages/<rule>.py``) defines its
parameters once, as a frozen dataclass with a ``from_config(config, wildcards)`` constructor,
and the function that runs it; ``scripts/<rule>.py`` only hands the command line over.

Stage modules import the heavy libraries (torch, albumentations) inside ``run``: the Snakefile
imports every stage module to build the params, and must plan without them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from weakseg.io.errors import WeaksegError
from weakseg.ops.cli import run_main, run_on_leased_gpu

#: The shell line of every rule (see :attr:`Stage.shell`); GPU rules add their lease options (a
#: resource, never a param: the device a job runs on changes nothing of its result).
SHELL = "python scripts/{script}.py {{params.call:q}} {{params.files:q}} --threads {{threads:q}}{gpu} 2> {{log:q}}"


@dataclass(frozen=True)
class NoParams:
    """The parameters of a stage that reads nothing from the config (``summary``)."""

    @classmethod
    def from_config(cls, config: dict, wildcards: Any) -> NoParams:
        """No config value: the stage's inputs say everything."""
        return cls()


@dataclass(frozen=True)
class Stage:
    """One rule's stage.

    Args:
        name: the rule's name (and its script's, ``scripts/<name>.py``).
        params: a frozen dataclass with ``from_config(config, wildcards)``: the config values
            the stage reads, each named once here and in the schema.
        run: ``run(params, input, output, threads)``; ``input`` and ``output`` are namespaces of
            the rule's named files (str, or list of str for a list input).
        gpu: whether the job leases a GPU (:mod:`weakseg.ops.gpu_lease`) before ``run``.
    """

    name: str
    params: type
    run: Callable[..., None]
    gpu: bool = False

    @property
    def shell(self) -> str:
        """The rule's shell line: :data:`SHELL` for ``scripts/<name>.py``."""
        return SHELL.format(script=self.name, gpu=" {resources.gpu_lease}" if self.gpu else "")

    def call_json(self, config: dict, wildcards: Any) -> str:
        """The rule's ``params.call``: the stage's parameters as one JSON object (sorted keys)."""
        return json.dumps(dataclasses.asdict(self.params.from_config(config, wildcards)), sort_keys=True)

    def decode(self, call: str, files: str) -> tuple[Any, SimpleNamespace, SimpleNamespace]:
        """``(params, input, output)`` of a :meth:`call_json` and a :func:`files_json`.

        Raises:
            WeaksegError: not a call of this stage (not JSON, missing parts, unknown parameters).
        """
        try:
            params = _record(self.params, json.loads(call))
            named = json.loads(files)
            return params, SimpleNamespace(**named["input"]), SimpleNamespace(**named["output"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise WeaksegError(
                f"scripts/{self.name}.py: the argument is not a {self.name} call written by its rule ({error}); "
                "run the stage through Snakemake"
            ) from error

    def main(self, argv: list[str] | None = None) -> None:
        """The entry point of ``scripts/<name>.py``: decode the call, lease a GPU if needed, run."""
        run_main(lambda: self._main(argv))

    def _main(self, argv: list[str] | None) -> None:
        parser = argparse.ArgumentParser(description=f"rule {self.name}: {self.run.__doc__ or ''}".strip())
        parser.add_argument("call", help="the JSON value of the rule's params.call: the stage's parameters")
        parser.add_argument("files", help="the JSON value of the rule's params.files: its named inputs and outputs")
        parser.add_argument("--threads", type=int, default=1)

        def stage(args: argparse.Namespace) -> None:
            self.run(*self.decode(args.call, args.files), args.threads)

        if self.gpu:
            run_on_leased_gpu(parser, stage, argv)
        else:
            stage(parser.parse_args(argv))


def _record(cls: type, value: dict) -> Any:
    """``cls(**value)``, with the fields that are records (``X`` or ``X | None``) rebuilt from their dicts."""
    hints = typing.get_type_hints(cls)

    def field_value(name: str, item: Any) -> Any:
        records = [t for t in (hints.get(name), *typing.get_args(hints.get(name))) if dataclasses.is_dataclass(t)]
        return _record(records[0], item) if records and isinstance(item, dict) else item

    return cls(**{name: field_value(name, item) for name, item in value.items()})


def files_json(input: Any, output: Any) -> str:
    """A rule's ``params.files``: ``{"input": {name: path or [paths]}, "output": {name: path}}``.

    ``input``/``output`` are Snakemake's named lists (or mappings); unnamed entries are an
    error, so every file a stage reads is named by its rule.

    Raises:
        WeaksegError: a rule gives an unnamed input or output.
    """
    return json.dumps({"input": _named(input), "output": _named(output)}, sort_keys=True)


def _named(files: Any) -> dict:
    named = {k: _plain(v) for k, v in files.items()}
    # A Snakemake named list also holds its unnamed entries; a mapping holds names only.
    count = sum(len(v) if isinstance(v, list) else 1 for v in named.values())
    if not isinstance(files, dict) and count != len(files):
        raise WeaksegError(f"name every input and output of the rule (its stage reads them by name): {list(files)}")
    return named


def _plain(value: Any) -> str | list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
