"""The authors' MSR-VTT fine-tuned checkpoint -> simvtp backbone weights.

    python tools/model_converters/msrvtt_finetuned_to_simvtp.py \
        checkpoint-best.pth work_dirs/simvtp_msrvtt_video.pth \
        [--tower video|text|both] [--fc-norm-as-norm] [--strict] [--verbose]

The fine-tuned model has two encoders. ``--tower both`` keeps both for a
two-tower VideoTextRetriever (configs/retrieval/test_msrvtt_authors_finetuned.py,
loads strictly, nothing lost); ``video`` / ``text`` keep one tower's blocks
in one UnifiedViT ``backbone`` and the report says what was dropped.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from converter_cli import make_parser, run_converter  # noqa: E402
from simvtp.checkpoint.common import load_source  # noqa: E402
from simvtp.checkpoint.simvtp_msrvtt import \
    msrvtt_finetuned_to_simvtp  # noqa: E402


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument('--tower', choices=('video', 'text', 'both'),
                        default='video',
                        help='whose transformer blocks to keep (both: the '
                        'two towers, for a two-tower retriever)')
    parser.add_argument('--fc-norm-as-norm', action='store_true',
                        help='copy the post-pool fc_norm into backbone.norm '
                        '(an approximation)')

    def convert(args):
        ckpt = load_source(args.src, reference_globals=True)
        return msrvtt_finetuned_to_simvtp(
            ckpt, tower=args.tower, fc_norm_as_norm=args.fc_norm_as_norm,
            source=args.src)

    return run_converter(parser, convert, argv,
                         tool='msrvtt_finetuned_to_simvtp')


if __name__ == '__main__':
    sys.exit(main())
