/**
 * The slideshow's order: photos that just arrived go first, newest first; otherwise it walks
 * the approved photos from the newest to the oldest and starts again. Bounded, because a
 * projector page runs for hours.
 */

export interface Slide {
  photoId: string;
  url: string;
  /** A video plays (muted) from `url` for its length, up to the slideshow's cap. */
  video?: { durationSeconds: number | null };
}

/** The newest approved photos the slideshow cycles through; older ones rest. */
export const MAX_SLIDES = 500;

export class Playlist {
  private slides: Slide[] = [];
  /** Photos announced live and not shown yet, newest first. */
  private arrived: Slide[] = [];
  private position = 0;

  get size(): number {
    return this.slides.length;
  }

  /**
   * Replaces the whole list (newest first, from the API), e.g. with fresh signed URLs. The walk
   * carries on after the photo it last showed, if that photo is still in the list.
   */
  replaceAll(slides: Slide[], lastShownId: string | null): void {
    this.slides = slides.slice(0, MAX_SLIDES);
    const ids = new Set(this.slides.map((slide) => slide.photoId));
    this.arrived = this.arrived.filter((slide) => ids.has(slide.photoId));
    const last = this.slides.findIndex((slide) => slide.photoId === lastShownId);
    this.position = last >= 0 ? last + 1 : 0;
  }

  /**
   * A newly approved photo: shown next, then part of the loop. A photo already in the show (its
   * preview replaced by the processed image) keeps its place, with the new image.
   */
  add(slide: Slide): void {
    const index = this.slides.findIndex((other) => other.photoId === slide.photoId);
    if (index >= 0) {
      this.slides[index] = slide;
      this.arrived = this.arrived.map((other) => (other.photoId === slide.photoId ? slide : other));
      return;
    }
    this.slides.unshift(slide);
    // The walk's place stays on the same photo although the list grew at its front.
    this.position++;
    this.slides.length = Math.min(this.slides.length, MAX_SLIDES);
    this.arrived.unshift(slide);
  }

  /** A photo hidden, deleted or unapproved: out of the show. */
  remove(photoId: string): void {
    const index = this.slides.findIndex((slide) => slide.photoId === photoId);
    if (index >= 0) {
      this.slides.splice(index, 1);
      if (index < this.position) this.position--;
    }
    this.arrived = this.arrived.filter((slide) => slide.photoId !== photoId);
  }

  /** The next photo to show, and whether the walk just started over (a good time to refresh). */
  next(): { slide: Slide; wrapped: boolean } | null {
    const fresh = this.arrived.shift();
    if (fresh) return { slide: fresh, wrapped: false };
    if (this.slides.length === 0) return null;
    const wrapped = this.position >= this.slides.length;
    if (wrapped) this.position = 0;
    return { slide: this.slides[this.position++]!, wrapped };
  }
}
