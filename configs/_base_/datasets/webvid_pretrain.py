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
# the reference tokenises with max_length=512 (BERT's position table) and
# pads to the batch's longest caption: no WebVid caption is cut
text_max_len = 512

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    # the reference's GroupMultiScaleCrop: scales (1, .875, .75, .66), max
    # distortion 1, 13 fixed crop positions (more_fix_crop)
    dict(type='MultiScaleCrop', input_size=img_size,
         scales=(1, .875, .75, .66), random_crop=False, max_wh_scale_gap=1,
         num_fixed_crops=13),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    # no horizontal flip (the reference has none): it would turn captions
    # that say "left" / "right" into wrong ones
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TubeMasking', mask_ratio=video_mask_ratio, tubelet_size=2,
         patch_size=16),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    # each word independently with p=0.75, as the reference (count='exact'
    # would fix the count per caption); 'bert' = the paper's 80/10/10
    # replacement (the reference puts [MASK] everywhere: strategy='mae')
    dict(type='TextMasking', mask_ratio=text_mask_ratio, strategy='bert',
         count='bernoulli'),
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
    # a broken video is replaced by another sample (logged and counted by
    # DataHealthHook), never the end of the run
    dataset=dict(
        type='BrokenSampleGuard',
        dataset=dict(
            type='WebVidDataset',
            ann_file=ann_file_train,
            data_prefix=dict(video=data_root),
            pipeline=train_pipeline)))
