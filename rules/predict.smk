rule predict:
    input:
        unpack(predict_inputs),
        scene_images=scene_inputs("image", PREDICTS_SCENES),
        scene_labels=scene_inputs("scoring_label", PREDICTS_SCENES),
    output:
        predictions=directory("results/predict/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}"),
    log:
        "results/logs/predict/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/predict/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("predict"),
        gpu_lease=GPU_LEASE,
    params:
        call=stage_call("predict"),
        files=stage_files,
    shell:
        stage_shell("predict")
