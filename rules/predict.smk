rule predict:
    input:
        unpack(predict_inputs),
        scene_images=scene_inputs("image", PREDICTS_SCENES),
        scene_labels=scene_inputs("label", PREDICTS_SCENES),
    output:
        directory("results/predict/{variant}/strong-{fraction}/seed-{seed}/{point}"),
    log:
        "results/logs/predict/{variant}/strong-{fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/predict/{variant}/strong-{fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("predict"),
        gpu_lease=GPU_LEASE,
    params:
        source=predict_source,
        dataset=DATASET,
        window=config["evaluation"]["window"],
        overlap=config["evaluation"]["overlap"],
        batch_size=config["predict"]["batch_size"],
        shorter_side=shorter_side_option(),
        device=config["training"]["device"],
    shell:
        "python scripts/predict.py --model {input.model:q} --dataset {params.dataset:q} {params.source}"
        " --window {params.window:q} --overlap {params.overlap:q} --batch-size {params.batch_size:q}"
        " {params.shorter_side} --device {params.device:q} --out-dir {output:q} {resources.gpu_lease} 2> {log:q}"
