// The board over the video: a canvas kept exactly on the video's displayed picture (the
// letterboxed rectangle `object-fit: contain` leaves, not the element's box), because stroke
// coordinates are fractions of the picture. It follows every resize and redraws the strokes
// since the last `clear` at the new size. `slide` events show a small label (or the slide, when
// its URL is an image) in the stage's corner.
import { element, webURL } from "/web/common.js";

const DEFAULT_COLOR = "#ff3b30";
const DEFAULT_WIDTH = 0.004;
const IMAGE_PATH = /\.(png|jpe?g|gif|webp|avif|svg)$/i;

export class Board {
    /**
     * @param {object} options
     * @param {HTMLElement} options.container the page's `#module-board`, a layer over the stage
     * @param {HTMLVideoElement} options.video
     */
    constructor({ container, video }) {
        this.container = container;
        this.video = video;
        this.canvas = element("canvas", "board-canvas");
        this.canvas.id = "board-canvas";
        this.canvas.setAttribute("aria-hidden", "true");
        this.slide = element("div", "board-slide");
        this.slide.hidden = true;
        container.append(this.canvas, this.slide);
        /** Strokes since the last clear, redrawn on every resize. */
        this.strokes = [];
        const relayout = () => this.layout();
        new ResizeObserver(relayout).observe(video);
        video.addEventListener("loadedmetadata", relayout);
        video.addEventListener("resize", relayout);
        addEventListener("resize", relayout);
        this.layout();
    }

    render(event) {
        if (event.type !== "board") return;
        if (event.kind === "stroke" && Array.isArray(event.points)) {
            const stroke = {
                points: event.points.filter((p) => Array.isArray(p) && p.length >= 2).map((p) => [+p[0], +p[1]]),
                color: /^#[0-9a-fA-F]{6}$/.test(event.color ?? "") ? event.color : DEFAULT_COLOR,
                width: Number.isFinite(event.width) && event.width > 0 ? event.width : DEFAULT_WIDTH,
            };
            this.strokes.push(stroke);
            this.draw(stroke);
        } else if (event.kind === "clear") {
            this.strokes = [];
            this.redraw();
        } else if (event.kind === "slide") {
            this.showSlide(event.url, event.page);
        }
    }

    reset() {
        this.strokes = [];
        this.redraw();
        this.showSlide(null);
    }

    /** Places the canvas on the picture's rectangle and sizes its pixels to the screen's. */
    layout() {
        const box = this.video.getBoundingClientRect();
        const stage = this.container.getBoundingClientRect();
        // Before metadata the picture's shape is unknown: 16:9, the stage's.
        const vw = this.video.videoWidth || 16;
        const vh = this.video.videoHeight || 9;
        const scale = Math.min(box.width / vw, box.height / vh) || 0;
        const width = vw * scale;
        const height = vh * scale;
        const style = this.canvas.style;
        style.left = `${box.left - stage.left + (box.width - width) / 2}px`;
        style.top = `${box.top - stage.top + (box.height - height) / 2}px`;
        style.width = `${width}px`;
        style.height = `${height}px`;
        const ratio = devicePixelRatio || 1;
        const pixelsWide = Math.max(1, Math.round(width * ratio));
        const pixelsHigh = Math.max(1, Math.round(height * ratio));
        if (this.canvas.width !== pixelsWide || this.canvas.height !== pixelsHigh) {
            this.canvas.width = pixelsWide;
            this.canvas.height = pixelsHigh;
        }
        this.redraw();
    }

    redraw() {
        this.canvas.getContext("2d").clearRect(0, 0, this.canvas.width, this.canvas.height);
        for (const stroke of this.strokes) this.draw(stroke);
        this.canvas.dataset.strokes = String(this.strokes.length);
    }

    draw({ points, color, width }) {
        const context = this.canvas.getContext("2d");
        const w = this.canvas.width;
        const h = this.canvas.height;
        context.strokeStyle = color;
        context.fillStyle = color;
        context.lineWidth = Math.max(1, width * w);
        context.lineCap = "round";
        context.lineJoin = "round";
        if (points.length === 1) {
            context.beginPath();
            context.arc(points[0][0] * w, points[0][1] * h, context.lineWidth / 2, 0, 2 * Math.PI);
            context.fill();
        } else if (points.length > 1) {
            context.beginPath();
            context.moveTo(points[0][0] * w, points[0][1] * h);
            for (const [x, y] of points.slice(1)) context.lineTo(x * w, y * h);
            context.stroke();
        }
        this.canvas.dataset.strokes = String(this.strokes.length);
    }

    showSlide(url, page) {
        const safe = webURL(url);
        this.slide.replaceChildren();
        this.slide.hidden = !safe;
        if (!safe) return;
        const label = page ? `Slide ${page}` : "Slide";
        const parsed = new URL(safe);
        if (IMAGE_PATH.test(parsed.pathname)) {
            const image = element("img", "board-slide-image");
            image.alt = label;
            image.referrerPolicy = "no-referrer";
            image.src = safe;
            this.slide.append(image);
        }
        let name = parsed.pathname.split("/").pop() || parsed.host;
        try {
            name = decodeURIComponent(name);
        } catch {
            // Not valid percent-encoding: shown as it is.
        }
        this.slide.append(element("span", "board-slide-label", `${label} · ${name}`));
        this.slide.title = safe;
    }
}
