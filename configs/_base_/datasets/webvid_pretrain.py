# WebVid-2M as distributed: results_2M_train.csv + videos at
# {data_root}/{page_dir}/{videoid}.mp4. Override data_root / ann_file with
# --cfg-options, or point ann_file at the authors' {video: caption} JSON.
data_root = 'data/webvid/videos'
ann_file_train = 'data/webvid/results_2M_train.csv'
tokenizer = 'bert-base-uncased'  # a local folder or a name in the HF cache
num_frames = 16
frame_interval = 4
img_size = 224
video_mask_ratio = 0.9
text_mask_ratio = 0.75
text_max_len = 32

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='MultiScaleCrop', input_size=img_size,
         scales=(1, .875, .75, .66), random_crop=False, max_wh_scale_gap=1),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TubeMasking', mask_ratio=video_mask_ratio, tubelet_size=2,
         patch_size=16),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='TextMasking', mask_ratio=text_mask_ratio, strategy='bert'),
    dict(type='PackVideoTextInputs'),
]

train_dataloader = dict(
    batch_size=16,  # per GPU; the paper uses 64 GPUs x 16
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    # an incomplete last batch changes the contrastive task (fewer
    # negatives) and, with one pair, leaves VTM without a negative
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='WebVidDataset',
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
