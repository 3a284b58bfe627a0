# SimVTP ViT-B/16 retrieval model, the authors' fine-tuning layout: two
# untied copies of the pre-trained encoder (video tower, text tower), each
# feature = token mean then a LayerNorm (post_norm), symmetric InfoNCE with
# a fixed temperature of 0.05 (sum of both directions), no projection.
# The paper shares one encoder between modalities: model.tied=True (then
# optim_wrapper.paramwise_cfg.encoders=['backbone'] and
# model.init_cfg.prefix_map={'backbone.': 'backbone.'}).
embed_dims = 768
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_vitb/epoch_200.pth}}'
model = dict(
    type='VideoTextRetriever',
    data_preprocessor=dict(type='VideoTextDataPreprocessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], pad_token_id=0),
    backbone=dict(type='UnifiedViT', arch='base', img_size=224,
                  patch_size=16, num_frames=16, tubelet_size=2,
                  vocab_size=30522, max_text_len=512, drop_path_rate=0.1),
    tied=False,
    vtc_head=dict(type='VTCHead', embed_dims=embed_dims,
                  learnable_temperature=False, temperature=0.05,
                  symmetric_sum=True),
    post_norm=True,
    pooling='mean',
    view_reduce='mean',
    init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                  prefix_map={'backbone.': ['video_encoder.',
                                            'text_encoder.']}))
