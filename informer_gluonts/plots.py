"""Informer's own figure: the encoder's self-attention weights (the official
``--output_attention``), drawn by the command line's ``--output-attention``."""

from pathlib import Path

from lagllama_gluonts.common.atomic import atomic_path


def write_attention(path: Path, predictor, dataset, layer: int) -> Path:
    """A heat map of encoder layer ``layer``'s self-attention (averaged over heads) on the last
    window of the first series: ``InformerModel.encoder_attention``."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    model = predictor.prediction_net.model
    entry = next(iter(predictor.input_transform.apply(dataset, is_train=False)))
    device = next(model.parameters()).device
    batch = {name: torch.as_tensor(entry[name]).unsqueeze(0).to(device) for name in predictor.input_names}
    weights = model.encoder_attention(**batch)[layer][0].mean(0).cpu().numpy()  # (L_Q, L_K)
    fig = Figure(figsize=(6, 5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(weights, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="attention weight")
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.set_title(f"encoder layer {layer} self-attention (mean over heads)")
    fig.tight_layout()
    with atomic_path(path) as temp:  # whole or not at all, as every file the package writes
        fig.savefig(temp, format="png", dpi=100)
    return path
