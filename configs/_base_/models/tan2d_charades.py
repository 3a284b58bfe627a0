# 2D-TAN (Zhang et al., AAAI 2020) as in microsoft/2D-TAN's
# experiments/charades/2D-TAN-16x16-K5L8-conv.yaml: 256 sampled clips pooled
# to N=16, dense 16x16 map (one scale of 16 conv layers), Hadamard fusion,
# 8 masked 5x5 convs of width 512, scaled-IoU BCE with bounds 0.5-1.0,
# NMS 0.5 at test. The query is the pre-trained simvtp text encoder's
# mean-pooled output (frozen); 2D-TAN's GloVe + 3-layer LSTM is
# LSTMQueryEncoder (GloVe only from a local file). Set in_channels to the
# width of the extracted features and the encoder to your simvtp model
# (config + checkpoint; the environment variable SIMVTP_PRETRAINED sets the
# checkpoint).
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_vitb/epoch_200.pth}}'
model = dict(
    type='TAN2D',
    frame_pool=dict(type='FrameAvgPool', in_channels=768, hidden_dims=512,
                    kernel_size=16, stride=16),
    proposal=dict(type='SparsePropMap', num_scale_layers=[16], mode='conv'),
    query_encoder=dict(type='SimVTPTextQueryEncoder',
                       encoder='configs/simvtp/pretrain_vitb.py',
                       checkpoint=pretrained, frozen=True),
    fusion=dict(type='HadamardFusion'),
    map_conv=dict(type='MapConv', hidden_dims=[512] * 8,
                  kernel_sizes=[5] * 8),
    loss=dict(type='ScaledIoULoss', min_iou=0.5, max_iou=1.0, bias=0.0),
    nms_thresh=0.5,
    max_proposals=5)
