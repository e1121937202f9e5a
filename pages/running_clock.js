// A clock the browser runs: `seconds` is its value when the server sent it, and the browser counts on from there
// (up for a call's duration, down for the time left to answer), with no message from the server per second.
export default {
  template: `<span>{{ text }}</span>`,
  props: { seconds: Number, countdown: Boolean },
  data() {
    return { since: performance.now(), now: performance.now() };
  },
  computed: {
    text() {
      if (this.seconds === null || this.seconds === undefined) return "";
      const elapsed = (this.now - this.since) / 1000;
      if (this.countdown) return `${Math.max(0, Math.round(this.seconds - elapsed))} s left to answer`;
      const total = Math.max(0, Math.floor(this.seconds + elapsed));
      return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
    },
  },
  watch: {
    seconds() {
      this.since = this.now = performance.now();
    },
  },
  mounted() {
    this.timer = setInterval(() => (this.now = performance.now()), 250);
  },
  unmounted() {
    clearInterval(this.timer);
  },
};
