rule evaluate:
    input:
        model="results/models/{variant}/model.pt",
        tiles=f"{DATA}/tiles/tiles.csv",
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        splits="results/split/splits.json",
        weak_labels="results/weak_labels/weak_labels.csv",
    output:
        metrics="results/eval/{variant}/metrics.json",
        per_class=report("results/eval/{variant}/per_class.csv", caption="../report/per_class.rst", category="Evaluation", subcategory="{variant}"),
        confusion="results/eval/{variant}/confusion.csv",
        predictions=report(directory("results/eval/{variant}/predictions"), patterns=["{tile}.png"], caption="../report/predictions.rst", category="Evaluation", subcategory="{variant}"),
    params:
        tiles_dir=lambda wildcards, input: os.path.dirname(input.tiles),
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        dataset=DATASET,
        batch_size=config["evaluation"]["batch_size"],
        gallery_tiles=config["evaluation"]["gallery_tiles"],
        device=config["training"]["device"],
    threads: 2
    resources:
        gpu=1,
    log:
        "results/logs/evaluate/{variant}.log",
    benchmark:
        "results/benchmarks/evaluate/{variant}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python scripts/evaluate.py --variant {wildcards.variant} --model {input.model} --tiles-dir {params.tiles_dir}"
        " --splits {input.splits} --weak-labels {input.weak_labels} --dataset {params.dataset}"
        " --batch-size {params.batch_size} --gallery-tiles {params.gallery_tiles} --device {params.device}"
        " --threads {threads} --out-dir {params.out_dir} 2> {log}"
