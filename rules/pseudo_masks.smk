# Pseudo-masks (method pseudo_masks): the teacher, joint[kind] of the same fraction, seed and point,
# predicts the weak tiles and their weak labels refine the predictions; the student (variant
# pseudo_masks, rule train) trains on them. The audit scores them against the true masks, after
# the student trained, for the report only.


rule pseudo_masks:
    input:
        unpack(pseudo_mask_inputs),
    output:
        masks="results/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/pseudo_masks.npy",
        summary="results/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/summary.json",
    log:
        "results/logs/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("pseudo_masks"),
        gpu_lease=GPU_LEASE,
    params:
        call=stage_call("pseudo_masks"),
        files=stage_files,
    shell:
        stage_shell("pseudo_masks")


rule pseudo_mask_audit:
    input:
        unpack(pseudo_mask_audit_inputs),
    output:
        audit="results/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/audit.json",
        preview=report(
            "results/pseudo_masks/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/preview.png",
            caption="../report/pseudo_masks.rst",
            category="Pseudo-masks",
            subcategory="{weak_kind}",
        ),
    log:
        "results/logs/pseudo_mask_audit/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/pseudo_mask_audit/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        **job_resources("pseudo_mask_audit"),
    params:
        call=stage_call("pseudo_mask_audit"),
        files=stage_files,
    shell:
        stage_shell("pseudo_mask_audit")
