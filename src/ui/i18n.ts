/** The widget's words in English and in LINE's markets' languages; picked by `lang`, else the browser's. */

const en = {
  title: 'Chat with us',
  placeholder: 'Write a message…',
  send: 'Send',
  open: 'Open chat',
  close: 'Close chat',
  messages: 'Messages',
  connecting: 'Connecting…',
  connected: 'Online',
  offline: 'You are offline. Messages will be sent when you are back.',
  stopped: 'Disconnected.',
  expired: 'Your session has expired.',
  replaced: 'This chat is open in another window.',
  reconnect: 'Reconnect',
  useHere: 'Use here',
  storage: 'Messages are not saved on this device.',
  queued: 'Waiting to send',
  sending: 'Sending…',
  sent: 'Sent',
  read: 'Read',
  failed: 'Not sent',
  retry: 'Retry',
  you: 'You',
  support: 'Support',
  visitor: 'Visitor',
  typing: '{name} is typing…',
  newMessages: 'New messages',
  older: 'Loading earlier messages…',
  unread: '{n} unread',
  newFrom: 'New message from {name}: {text}',
  tooLong: 'Too long to send: {n} of {max} characters.',
  badText: 'This message has characters that cannot be sent.',
};

export type Strings = typeof en;

const ja: Strings = {
  title: 'チャットでお問い合わせ',
  placeholder: 'メッセージを入力…',
  send: '送信',
  open: 'チャットを開く',
  close: 'チャットを閉じる',
  messages: 'メッセージ',
  connecting: '接続中…',
  connected: 'オンライン',
  offline: 'オフラインです。再接続後にメッセージが送信されます。',
  stopped: '切断されました。',
  expired: 'セッションの有効期限が切れました。',
  replaced: 'このチャットは別のウィンドウで開かれています。',
  reconnect: '再接続',
  useHere: 'ここで使う',
  storage: 'この端末にはメッセージが保存されません。',
  queued: '送信待ち',
  sending: '送信中…',
  sent: '送信済み',
  read: '既読',
  failed: '未送信',
  retry: '再送',
  you: 'あなた',
  support: 'サポート',
  visitor: 'お客様',
  typing: '{name}が入力中…',
  newMessages: '新着メッセージ',
  older: '過去のメッセージを読み込み中…',
  unread: '未読 {n} 件',
  newFrom: '{name}から新着メッセージ: {text}',
  tooLong: '長すぎて送信できません（{n} / {max} 文字）。',
  badText: '送信できない文字が含まれています。',
};

const th: Strings = {
  title: 'แชทกับเรา',
  placeholder: 'พิมพ์ข้อความ…',
  send: 'ส่ง',
  open: 'เปิดแชท',
  close: 'ปิดแชท',
  messages: 'ข้อความ',
  connecting: 'กำลังเชื่อมต่อ…',
  connected: 'ออนไลน์',
  offline: 'คุณออฟไลน์อยู่ ข้อความจะถูกส่งเมื่อกลับมาออนไลน์',
  stopped: 'การเชื่อมต่อขาดหาย',
  expired: 'เซสชันของคุณหมดอายุแล้ว',
  replaced: 'แชทนี้เปิดอยู่ในหน้าต่างอื่น',
  reconnect: 'เชื่อมต่อใหม่',
  useHere: 'ใช้ที่นี่',
  storage: 'ข้อความจะไม่ถูกบันทึกในอุปกรณ์นี้',
  queued: 'รอส่ง',
  sending: 'กำลังส่ง…',
  sent: 'ส่งแล้ว',
  read: 'อ่านแล้ว',
  failed: 'ส่งไม่สำเร็จ',
  retry: 'ลองอีกครั้ง',
  you: 'คุณ',
  support: 'ฝ่ายบริการ',
  visitor: 'ผู้เยี่ยมชม',
  typing: '{name} กำลังพิมพ์…',
  newMessages: 'ข้อความใหม่',
  older: 'กำลังโหลดข้อความก่อนหน้า…',
  unread: 'ยังไม่อ่าน {n}',
  newFrom: 'ข้อความใหม่จาก {name}: {text}',
  tooLong: 'ข้อความยาวเกินกว่าจะส่งได้ ({n} จาก {max} ตัวอักษร)',
  badText: 'ข้อความนี้มีอักขระที่ส่งไม่ได้',
};

const zhTW: Strings = {
  title: '與我們聊聊',
  placeholder: '輸入訊息…',
  send: '傳送',
  open: '開啟聊天',
  close: '關閉聊天',
  messages: '訊息',
  connecting: '連線中…',
  connected: '線上',
  offline: '您目前離線，恢復連線後會傳送訊息。',
  stopped: '已中斷連線。',
  expired: '您的工作階段已過期。',
  replaced: '此聊天已在其他視窗開啟。',
  reconnect: '重新連線',
  useHere: '在此使用',
  storage: '訊息不會儲存在此裝置上。',
  queued: '等待傳送',
  sending: '傳送中…',
  sent: '已傳送',
  read: '已讀',
  failed: '未傳送',
  retry: '重試',
  you: '您',
  support: '客服',
  visitor: '訪客',
  typing: '{name} 正在輸入…',
  newMessages: '新訊息',
  older: '正在載入較早的訊息…',
  unread: '{n} 則未讀',
  newFrom: '來自 {name} 的新訊息：{text}',
  tooLong: '訊息太長，無法傳送（{n} / {max} 個字元）。',
  badText: '此訊息含有無法傳送的字元。',
};

const id: Strings = {
  title: 'Chat dengan kami',
  placeholder: 'Tulis pesan…',
  send: 'Kirim',
  open: 'Buka chat',
  close: 'Tutup chat',
  messages: 'Pesan',
  connecting: 'Menghubungkan…',
  connected: 'Online',
  offline: 'Anda sedang offline. Pesan akan dikirim saat Anda kembali online.',
  stopped: 'Terputus.',
  expired: 'Sesi Anda telah berakhir.',
  replaced: 'Chat ini terbuka di jendela lain.',
  reconnect: 'Hubungkan ulang',
  useHere: 'Gunakan di sini',
  storage: 'Pesan tidak disimpan di perangkat ini.',
  queued: 'Menunggu dikirim',
  sending: 'Mengirim…',
  sent: 'Terkirim',
  read: 'Dibaca',
  failed: 'Tidak terkirim',
  retry: 'Coba lagi',
  you: 'Anda',
  support: 'Dukungan',
  visitor: 'Pengunjung',
  typing: '{name} sedang mengetik…',
  newMessages: 'Pesan baru',
  older: 'Memuat pesan sebelumnya…',
  unread: '{n} belum dibaca',
  newFrom: 'Pesan baru dari {name}: {text}',
  tooLong: 'Terlalu panjang untuk dikirim: {n} dari {max} karakter.',
  badText: 'Pesan ini berisi karakter yang tidak dapat dikirim.',
};

const LANGUAGES: Record<string, Strings> = { en, ja, th, 'zh-tw': zhTW, 'zh-hant': zhTW, zh: zhTW, id, in: id };
const RTL = /^(ar|he|fa|ur|ps|yi)\b/i;

/** The first of the requested languages (exact, then base language) that the widget has, else English. */
export function pickStrings(requested: readonly (string | null | undefined)[]): { strings: Strings; lang: string } {
  for (const tag of requested) {
    if (!tag) continue;
    const lower = tag.toLowerCase();
    const match = LANGUAGES[lower] ?? LANGUAGES[lower.split('-')[0]!];
    if (match) return { strings: match, lang: tag };
  }
  return { strings: en, lang: 'en' };
}

export const isRtl = (lang: string): boolean => RTL.test(lang);

/** Fills `{name}` style slots. */
export const format = (template: string, values: Record<string, string | number>): string =>
  template.replace(/\{(\w+)\}/g, (_, key: string) => String(values[key] ?? ''));
