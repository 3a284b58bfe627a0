# The embedded synthetic VQA data (configs/vqa/{mc,qa}_synthetic.py): clips
# with questions and 5-option caption sets, generated on first use into
# data/synthetic_qa/ after the pre-training data whose tokenizer it extends,
# read at the pre-trained synthetic model's geometry.
synthetic_data = dict(root='data/synthetic', num_train=2000, num_val=128,
                      num_test=256, num_frames=32, fps=10, size=112, seed=0)
data_root = 'data/synthetic_qa'
vocab_size = 256  # the pre-trained text embedding table
synthetic_qa_data = dict(root=data_root,
                         base_tokenizer='data/synthetic/tokenizer',
                         num_train=1500, num_val=0, num_test=500,
                         num_frames=32, fps=10, size=112, seed=0,
                         num_options=5, max_vocab_size=vocab_size)
# the pre-training vocabulary plus the question words (same ids)
tokenizer = data_root + '/tokenizer'

# the pre-trained model's input geometry
num_frames = 8
frame_interval = 4
img_size = 64
patch_size = 8
video_mask_ratio = 0.75  # in training (pre-training's ratio)
text_max_len = 32  # = the encoder's text positions: no caption is cut

# No augmentation: the answers are colours, shapes, motions and object
# counts, which RandAugment's colour operations, crops (objects leave the
# frame) and flips (left <-> right) would change.
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    # train on a random quarter of the tubes, as pre-training's VTM saw
    # them: ~4x cheaper on the CPU; the test a fixed quarter (below)
    dict(type='TubeMasking', mask_ratio=video_mask_ratio, tubelet_size=2,
         patch_size=patch_size),
    # a list of K option texts -> (K, L) ids
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='label'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    # the same visible quarter of the tubes as in training, fixed per sample
    # (seed): the test costs a quarter, and the model sees the tube count it
    # was fine-tuned on
    dict(type='TubeMasking', mask_ratio=video_mask_ratio, tubelet_size=2,
         patch_size=patch_size, seed=0),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='label'),
]
