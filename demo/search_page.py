"""A local web page for text-to-video search (needs ``pip install gradio``).

    python demo/search_page.py VIDEOS [--config CONFIG] [--checkpoint CKPT] \
        [--index FILE] [--topk 6] [--port 7860] [--query "..."]

then open http://127.0.0.1:7860, type a query and press Search: the top
videos play as looping previews, each with its rank, score and file name.
VIDEOS, --config, --checkpoint and --index are as for
``demo/text_video_search.py`` (the index is built once at start-up, or
loaded from --index). Previews are animated GIFs made from decoded frames,
so any codec the decoder reads plays in every browser. The page listens on
127.0.0.1 only, unless --host says otherwise.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from text_video_search import DEFAULT_CHECKPOINT, DEFAULT_CONFIG  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('videos', help='folder, list file or annotation file')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', default=DEFAULT_CHECKPOINT)
    parser.add_argument('--index', default=None,
                        help='reuse this index file, or save it there')
    parser.add_argument('--topk', type=int, default=6)
    parser.add_argument('--query', default='',
                        help='a first query, searched when the page loads')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--preview-dir', default=None,
                        help='where GIF previews are cached (default: a '
                        'temporary folder)')
    return parser.parse_args(argv)


class SearchPage:
    """The page's logic, without gradio: query -> gallery items."""

    def __init__(self, searcher, preview_dir: str, topk: int = 6,
                 preview_frames: int = 16, preview_size: int = 160) -> None:
        self.searcher = searcher
        self.preview_dir = preview_dir
        self.topk = topk
        self.preview_frames = preview_frames
        self.preview_size = preview_size
        os.makedirs(preview_dir, exist_ok=True)

    def preview(self, path: str) -> str:
        """A cached GIF of ``path``."""
        from simvtp.visualization.search_sheet import hit_preview_gif
        key = hashlib.sha1(osp.abspath(path).encode()).hexdigest()[:16]
        out = osp.join(self.preview_dir, f'{key}.gif')
        if not osp.isfile(out):
            hit_preview_gif(path, out, num_frames=self.preview_frames,
                            size=self.preview_size)
        return out

    def __call__(self, query: str, topk: int = None):
        """``(gallery items [(gif path, caption)], status text)``."""
        query = (query or '').strip()
        if not query:
            return [], 'type a query'
        hits = self.searcher.search(query, topk=int(topk or self.topk))[0]
        items = []
        for hit in hits:
            try:
                gif = self.preview(hit.video)
            except Exception as exc:  # show the ranking anyway
                print(f'[search_page] no preview for {hit.video}: {exc}')
                continue
            items.append((gif, f'#{hit.rank}  {hit.score:.3f}  '
                          f'{osp.basename(hit.video)}'))
        status = (f'top {len(hits)} of {len(self.searcher.index)} videos for '
                  f'"{query}"')
        return items, status


def build_page(page: SearchPage, first_query: str = ''):
    import gradio as gr
    with gr.Blocks(title='simvtp text-to-video search') as demo:
        gr.Markdown('## simvtp text-to-video search')
        with gr.Row():
            query = gr.Textbox(label='query', scale=4, value=first_query,
                               placeholder='a red circle moves left')
            topk = gr.Slider(1, 24, value=page.topk, step=1, label='top k',
                             scale=1)
        button = gr.Button('Search', variant='primary')
        status = gr.Markdown()
        gallery = gr.Gallery(label='results', columns=3, height='auto')
        button.click(page, [query, topk], [gallery, status])
        query.submit(page, [query, topk], [gallery, status])
        if first_query:
            demo.load(page, [query, topk], [gallery, status])
    return demo


def main(argv=None) -> int:
    args = parse_args(argv)
    from simvtp.apis import VideoTextSearcher
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    searcher = VideoTextSearcher(args.config, checkpoint, device=args.device)
    if args.index and osp.isfile(args.index):
        searcher.load_index(args.index)
    else:
        index = searcher.build_index(args.videos)
        for name, reason in index.meta['failed']:
            print(f'skipped {name}: {reason}')
        if args.index:
            searcher.save_index(args.index)
    print(f'{len(searcher.index)} videos indexed')
    preview_dir = args.preview_dir or tempfile.mkdtemp(prefix='simvtp_gifs_')
    page = SearchPage(searcher, preview_dir, args.topk)
    build_page(page, args.query).launch(
        server_name=args.host, server_port=args.port,
        allowed_paths=[preview_dir])
    return 0


if __name__ == '__main__':
    sys.exit(main())
