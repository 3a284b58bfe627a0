# Temporal grounding over pre-extracted clip features: one item = one query
# (its video's features averaged to num_sample_clips, L2-normalised per
# clip, plus the tokenized sentence). Children set each split's dataset
# type, annotation file, feature file and layout (and the pipeline when
# the text encoder is not bert-base-uncased's); the best checkpoint on val (CheckpointHook save_best, set in
# the child) is the one tested after training.
loader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'))
pipeline = [
    dict(type='TokenizeText', tokenizer='bert-base-uncased', max_length=64),
    dict(type='PackGroundingInputs'),
]
train_dataloader = dict(
    loader, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(num_sample_clips=256, normalize=True, pipeline=pipeline))
val_dataloader = dict(
    loader, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(num_sample_clips=256, normalize=True, pipeline=pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='TemporalGroundingMetric', recalls=(1, 5),
                     iou_thresholds=(0.5, 0.7))
test_evaluator = val_evaluator
test_after_train = True
custom_hooks = [dict(type='LoadBestCheckpointHook')]
