# weakseg: does pretraining on weak labels (label proportions, tags, points, ...) help when only 10% of
# tiles have pixel labels? Run: snakemake --cores 2 (add --resources gpu=1 on a GPU machine).
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "workflow_config.yaml"


include: "rules/moved_keys.smk"


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/training.smk"
include: "rules/pseudo_masks.smk"
include: "rules/evaluation.smk"
include: "rules/predict.smk"
include: "rules/report.smk"


# Run where Snakemake runs, never as cluster jobs: the download needs the internet (compute
# nodes often have none), and summary and report take seconds.
localrules:
    download,
    summary,
    report,


rule all:
    default_target: True
    input:
        "results/report.html",
