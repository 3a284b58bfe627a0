# mmaction2's Recognizer3D with the SimVTP ViT-B/16 encoder as its backbone,
# set up as VideoMAE fine-tunes its encoder: mean pooling over all tokens,
# no per-token final norm, a new LayerNorm on the pooled feature (fc_norm),
# drop path 0.1, a linear head (TimeSformerHead), Mixup 0.8 / CutMix 1.0
# (one of the two per batch) with label smoothing 0.1.
# Children set num_classes and model.backbone.init_cfg.checkpoint, and
# custom_imports = dict(imports=['simvtp', 'mmaction.models']) so that
# mmaction2's recognisers and heads are registered.
embed_dims = 768
num_classes = 400
mean = [123.675, 116.28, 103.53]
std = [58.395, 57.12, 57.375]

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='UnifiedViT',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        with_text=False,
        drop_path_rate=0.1,
        out_type='avg_featmap',
        final_norm=False,
        fc_norm=True,
        # the pre-training's backbone.* -> this encoder; the report lists
        # backbone.norm.* / text_embeddings.* as unused and fc_norm.* as
        # missing (new), as VideoMAE's fine-tuning does
        init_cfg=dict(type='SimVTPPretrained', checkpoint=None,
                      prefix_map={'backbone.': ''})),
    cls_head=dict(
        type='TimeSformerHead',
        num_classes=num_classes,
        in_channels=embed_dims,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=mean,
        std=std,
        format_shape='NCTHW',
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.0,
                     num_classes=num_classes)
            ])))
