// Recent calls as data: one element, rows rendered here (the server sends the first page with the element, then a
// row when a call ends and more pages on demand). "When" is counted here too, so it stays true while the page is
// open without a message from the server.
const MINUTE = 60, HOUR = 3600, DAY = 86400;

export default {
  template: `
    <div>
      <div v-if="!rows.length" class="text-grey-8">{{ empty }}</div>
      <q-list v-else bordered separator class="bg-white rounded-borders">
        <q-item v-for="row in rows" :key="row.id" class="items-center">
          <q-item-section avatar>
            <q-icon :name="row.missed ? 'phone_missed' : row.direction === 'Incoming' ? 'call_received' : 'call_made'"
                    :color="row.missed ? 'negative' : 'grey-7'" />
          </q-item-section>
          <q-item-section>
            <q-item-label class="text-weight-medium">{{ row.peer }}</q-item-label>
            <q-item-label caption>{{ row.direction }} · {{ when(row.at) }}</q-item-label>
          </q-item-section>
          <q-item-section side>
            <span :class="row.missed ? 'text-negative text-weight-medium' : 'text-mono'">{{ row.outcome }}</span>
          </q-item-section>
          <q-item-section v-if="row.message" side>
            <div class="row items-center no-wrap q-gutter-sm">
              <audio controls preload="none" :src="'/messages/' + encodeURIComponent(row.message)"
                     :aria-label="'Message from ' + row.peer"></audio>
              <span class="text-mono">{{ row.message_length }}</span>
              <q-btn flat round dense color="negative" icon="delete" aria-label="Delete message"
                     @click="$emit('delete_message', row.message)" />
            </div>
          </q-item-section>
          <q-item-section side>
            <q-btn flat no-caps color="primary" icon="call" :label="'Call back ' + row.peer"
                   @click="$emit('call', row.peer)" />
          </q-item-section>
        </q-item>
      </q-list>
      <q-btn v-if="more && rows.length" flat no-caps color="primary" label="Show more" class="q-mt-xs"
             @click="$emit('more', rows[rows.length - 1].at)" />
    </div>`,
  props: { initial: Array, more: Boolean, empty: String },
  data() {
    return { rows: [...(this.initial || [])], now: Date.now() / 1000 };
  },
  mounted() {
    this.ticker = setInterval(() => (this.now = Date.now() / 1000), 20000);
  },
  unmounted() {
    clearInterval(this.ticker);
  },
  methods: {
    when(at) {
      const seconds = this.now - at;
      if (seconds < MINUTE) return "just now";
      if (seconds < HOUR) return `${Math.floor(seconds / MINUTE)} min ago`;
      if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h ago`;
      return new Date(at * 1000).toLocaleDateString();
    },
    // a call that just ended, newest first (a row already shown is not shown twice)
    add(row) {
      this.now = Date.now() / 1000;
      if (!this.rows.some((r) => r.id === row.id)) this.rows.unshift(row);
    },
    // the newest calls as they are now (a message came or went)
    replace(rows) {
      this.now = Date.now() / 1000;
      const shown = new Set(rows.map((r) => r.id));
      this.rows = [...rows, ...this.rows.filter((r) => !shown.has(r.id) && r.at < rows[rows.length - 1]?.at)];
    },
    // the next page, older calls
    append(rows) {
      const known = new Set(this.rows.map((r) => r.id));
      this.rows.push(...rows.filter((r) => !known.has(r.id)));
    },
  },
};
