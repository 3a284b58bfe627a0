"""The authors' SimVTP pre-training checkpoint -> a simvtp checkpoint.

    python tools/model_converters/reference_to_simvtp.py \
        checkpoint-199.pth work_dirs/simvtp_vitb_reference.pth \
        [--config configs/simvtp/pretrain_vitb.py] [--strict] [--verbose]

The output ({'state_dict', 'meta'}) loads with ``load_from=...`` or
``model.init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from converter_cli import make_parser, run_converter  # noqa: E402
from simvtp.checkpoint.common import load_source  # noqa: E402
from simvtp.checkpoint.simvtp_reference import (  # noqa: E402
    REFERENCE_TEMPERATURE, reference_to_simvtp)


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        '--temperature', type=float, default=REFERENCE_TEMPERATURE,
        help='VTC temperature written to vtc_head.logit_scale (reference: '
        'fixed 0.05)')

    def convert(args):
        ckpt = load_source(args.src, reference_globals=True)
        return reference_to_simvtp(ckpt, temperature=args.temperature,
                                   source=args.src)

    return run_converter(parser, convert, argv, tool='reference_to_simvtp')


if __name__ == '__main__':
    sys.exit(main())
