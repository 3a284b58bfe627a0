# The embedded grounding default: 2D-TAN on features of the pre-trained
# synthetic simvtp model, CPU-friendly.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/grounding/tan2d_synthetic.py
# On first use this generates data/synthetic_grounding/ (long videos, each
# a sequence of 4-8 captioned events of 2.5-5.5 s), extracts per-clip features
# with the video side of the pre-trained encoder (8 frames at interval 4 =
# the pre-training clip, one clip per 1.6 s), then trains 2D-TAN with the
# pre-trained text encoder as the query encoder (frozen), selects the
# checkpoint on the val split and tests it (R@1/R@5 at IoU 0.5/0.7, mIoU).
# Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
_base_ = [
    '../_base_/models/tan2d_charades.py',
    '../_base_/datasets/grounding_features.py',
    '../_base_/schedules/adam_2dtan_100e.py',
    '../_base_/default_runtime.py',
]

# the pre-training data: its WordPiece vocabulary is the text encoder's
synthetic_data = dict(root='data/synthetic', num_train=2000, num_val=128,
                      num_test=256, num_frames=32, fps=10, size=112, seed=0)
tokenizer = 'data/synthetic/tokenizer'
data_root = 'data/synthetic_grounding'
synthetic_grounding_data = dict(root=data_root, num_train=300, num_val=60,
                                num_test=120, fps=10, size=112, seed=0)
encoder_config = 'configs/simvtp/pretrain_synthetic.py'
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_synthetic/epoch_4.pth}}'
feature_file = data_root + '/features/simvtp_pretrained.hdf5'
feature_dim = 128  # the synthetic encoder's width

# run before the Runner by tools/train.py and tools/test.py (skipped when
# the file already holds every video; resumable; shared by all ranks)
feature_extraction = dict(
    config=encoder_config, checkpoint=pretrained,
    video_list=data_root + '/annotations/videos.txt', video_root=data_root,
    out=feature_file, layout='activitynet',
    clip_len=8, frame_interval=4, stride=16, batch_size=32)

num_clips = 16  # N of the 2D map
num_sample_clips = 64
hidden = 32  # map width (2D-TAN: 512); the map convs dominate the CPU cost
model = dict(
    frame_pool=dict(in_channels=feature_dim, hidden_dims=hidden,
                    kernel_size=num_sample_clips // num_clips,
                    stride=num_sample_clips // num_clips),
    query_encoder=dict(encoder=encoder_config, checkpoint=pretrained),
    map_conv=dict(hidden_dims=[hidden] * 2, kernel_sizes=[5] * 2))

dataset = dict(
    type='ActivityNetCaptionsGroundingDataset',
    feature_file=feature_file, feature_layout='activitynet',
    num_sample_clips=num_sample_clips,
    pipeline=[
        # 32: the encoder's text positions
        dict(type='TokenizeText', tokenizer=tokenizer, max_length=32),
        dict(type='PackGroundingInputs'),
    ])
loader = dict(num_workers=1)
train_dataloader = dict(
    loader,
    dataset=dict(dataset, ann_file=data_root + '/annotations/train.json'))
val_dataloader = dict(
    loader, batch_size=64,
    dataset=dict(dataset, ann_file=data_root + '/annotations/val.json'))
test_dataloader = dict(
    loader, batch_size=64,
    dataset=dict(dataset, ann_file=data_root + '/annotations/test.json'))

max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5,
         by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(max_keep_ckpts=1, save_best='grounding/R1@IoU0.5',
                    rule='greater'))
