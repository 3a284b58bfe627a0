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
video_mask_ratio = 0.75  # multiple choice (pre-training VTM's regime)
text_max_len = 32  # = the encoder's text positions: no caption is cut

# No augmentation: the answers are colours, shapes, motions and object
# counts, which RandAugment's colour operations, crops (objects leave the
# frame) and flips (left <-> right) would change.


def qa_pipeline(test_mode, mask_ratio=None):
    """Decode, resize, (tube-mask,) tokenize (a list of K options -> (K, L)
    ids) and pack; a fixed mask per sample at test time (seed)."""
    steps = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=num_frames,
             frame_interval=frame_interval, num_clips=1, test_mode=test_mode),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
        dict(type='FormatShape', input_format='NCTHW'),
    ]
    if mask_ratio:
        steps.append(dict(type='TubeMasking', mask_ratio=mask_ratio,
                          tubelet_size=2, patch_size=patch_size,
                          **(dict(seed=0) if test_mode else {})))
    return steps + [
        dict(type='TokenizeText', tokenizer=tokenizer,
             max_length=text_max_len),
        dict(type='PackVideoQAInputs', label_key='label'),
    ]


# Open-ended: every tube of the clip. The objects span ~3 patches: a 75%
# tube mask hides them in most clips, and "how many objects" then scored
# 73-82% instead of 98% (README, "Video question answering").
train_pipeline = qa_pipeline(test_mode=False)
test_pipeline = qa_pipeline(test_mode=True)
# Multiple choice: a random quarter of the tubes, as pre-training's VTM saw
# them and ~4x cheaper per option (whole clips were no better: 13.6-16% vs
# 16-19%, README); the test a fixed quarter per sample.
mc_train_pipeline = qa_pipeline(test_mode=False, mask_ratio=video_mask_ratio)
mc_test_pipeline = qa_pipeline(test_mode=True, mask_ratio=video_mask_ratio)
