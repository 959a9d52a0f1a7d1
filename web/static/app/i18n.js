// Every string the page shows, in Vietnamese (the default) and English. t('key', {n: 3}).

const STORAGE_KEY = 'congress.lang';

// key: [Vietnamese, English]
const STRINGS = {
  'app.title': ['Theo dõi đại hội', 'Congress monitor'],
  'app.loading': ['Đang tải…', 'Loading…'],
  'app.skip': ['Bỏ qua, đến nội dung chính', 'Skip to main content'],
  'app.signOut': ['Đăng xuất', 'Sign out'],
  'app.switchLang': ['English', 'Tiếng Việt'],
  'app.switchLangLabel': ['Switch to English', 'Chuyển sang tiếng Việt'],
  'app.scopes': ['Phạm vi của bạn', 'Your scope'],
  'app.updates': ['Có {n} cập nhật mới.', '{n} new updates.'],
  'app.update': ['Có 1 cập nhật mới.', '1 new update.'],

  'net.live': ['Trực tiếp', 'Live'],
  'net.connecting': ['Đang kết nối…', 'Connecting…'],
  'net.retrying': ['Mất kết nối, đang thử lại…', 'Connection lost, retrying…'],
  'net.offline': ['Ngoại tuyến', 'Offline'],
  'offline.asOf': ['Ngoại tuyến — dữ liệu lúc {time}', 'Offline, as of {time}'],
  'queue.title': ['Chờ gửi từ điện thoại này', 'Waiting to be sent from this phone'],
  'queue.waiting': ['{n} mục sẽ tự gửi khi có kết nối.', '{n} will be sent when the connection returns.'],
  'queue.refusedOnly': ['Máy chủ chưa nhận các mục dưới đây: hãy xem và quyết định.', 'The server did not take these: please look and decide.'],
  'queue.kept': ['Chưa có kết nối: đã lưu trên điện thoại, sẽ tự gửi khi có mạng.', 'No connection: kept on this phone, and sent when the connection returns.'],
  'queue.sent': ['Đã gửi: {what}', 'Sent: {what}'],
  'queue.entered': ['Bạn đã nhập:', 'You entered:'],
  'queue.at': ['Lúc {time}', 'At {time}'],
  'queue.badge': ['Chờ gửi', 'Waiting'],
  'queue.refusedBadge': ['Cần xem lại', 'Needs a look'],
  'queue.stale': ['Đã có người cập nhật đại hội này trước khi mục của bạn được gửi (phiên bản hiện tại {v}). Tình trạng hiện nay:', 'Someone changed this congress before yours was sent (current version {v}). This is how it stands now:'],
  'queue.again': ['Gửi lại trên dữ liệu mới', 'Send again on the current data'],
  'queue.discard': ['Bỏ mục này', 'Let it go'],
  'queue.signOutWarning': ['Còn {n} mục chưa gửi được. Chúng được giữ trên điện thoại và sẽ gửi khi bạn đăng nhập lại. Vẫn đăng xuất?', '{n} entries are not sent yet. They stay on this phone and are sent when you sign in again. Sign out anyway?'],
  'queue.full': ['Bộ nhớ của điện thoại đã đầy: chưa lưu được. Hãy giải phóng bộ nhớ rồi thử lại.', 'This phone\'s storage is full: it could not be kept. Free some space and try again.'],
  'queue.none': ['Không có mục nào chờ gửi.', 'Nothing is waiting to be sent.'],
  'queue.header': ['{n} chờ gửi', '{n} waiting to send'],
  'queue.headerRefused': ['{n} cần xem lại', '{n} need a look'],

  'err.NOT_FOUND': ['Không tìm thấy đơn vị này.', 'This committee was not found.'],
  'err.notFoundHelp': ['Đơn vị không tồn tại hoặc không thuộc phạm vi của bạn.', 'It does not exist or is not in your scope.'],
  'err.home': ['Về trang đầu', 'Back to the start'],
  'err.UNAUTHENTICATED': ['Phiên làm việc đã hết. Đang chuyển đến trang đăng nhập…', 'Your session has ended. Taking you to sign in…'],
  'err.RATE_LIMITED': ['Bạn đã gửi quá nhiều yêu cầu. Vui lòng chờ giây lát.', 'Too many requests. Please wait a moment.'],
  'err.UNAVAILABLE': ['Máy chủ đang bận. Chưa có gì được ghi nhận; vui lòng thử lại.', 'The server is busy. Nothing was recorded; please try again.'],
  'err.OUTCOME_UNKNOWN': ['Chưa rõ yêu cầu đã được ghi nhận hay chưa. Hãy bấm “Thử lại”: yêu cầu sẽ không bị ghi hai lần.', 'We could not tell whether this was recorded. Press “Try again”: it will not be recorded twice.'],
  'err.NETWORK': ['Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.', 'Cannot reach the server. Check the connection and try again.'],
  'err.COST_LIMIT': ['Yêu cầu quá lớn.', 'The request is too large.'],
  'err.BAD_USER_INPUT': ['Dữ liệu gửi đi không hợp lệ.', 'The request was not valid.'],
  'err.INTERNAL_SERVER_ERROR': ['Lỗi hệ thống. Mã yêu cầu: {id}.', 'System error. Request id: {id}.'],
  'err.CSRF_FAILED': ['Trang đã cũ so với phiên đăng nhập. Vui lòng tải lại trang.', 'This page is out of step with your session. Please reload it.'],
  'err.generic': ['Đã có lỗi. Vui lòng thử lại.', 'Something went wrong. Please try again.'],
  'err.retry': ['Thử lại', 'Try again'],
  'err.noScope': ['Tài khoản của bạn chưa được phân công đơn vị nào.', 'Your account is not assigned to any committee yet.'],

  'kind.CENTRAL': ['Trung ương', 'Central'],
  'kind.PROVINCE': ['Tỉnh/Thành ủy', 'Province/City'],
  'kind.DISTRICT': ['Huyện ủy', 'District'],
  'kind.COMMUNE': ['Đảng ủy xã/phường', 'Commune/Ward'],
  'kind.GRASSROOTS': ['Đảng bộ cơ sở', 'Grassroots'],
  'kind.CELL': ['Chi bộ', 'Cell'],

  'role.VIEWER': ['Xem', 'Viewer'],
  'role.REPORTER': ['Báo cáo', 'Reporter'],
  'role.APPROVER': ['Phê duyệt', 'Approver'],
  'role.ADMIN': ['Quản trị', 'Admin'],

  'crumb.label': ['Vị trí', 'Breadcrumb'],
  'jump.label': ['Đến mục', 'Jump to'],
  'search.label': ['Tìm đơn vị (không cần dấu)', 'Find a committee (accents optional)'],
  'search.placeholder': ['Ví dụ: ba dinh', 'e.g. ba dinh'],
  'search.submit': ['Tìm', 'Search'],
  'search.none': ['Không tìm thấy đơn vị nào.', 'No committee found.'],
  'search.count': ['{n} đơn vị', '{n} committees'],
  'search.more': ['Còn nữa, hãy gõ cụ thể hơn.', 'More match: type more to narrow it down.'],
  'search.short': ['Gõ ít nhất 2 ký tự.', 'Type at least 2 characters.'],

  'sum.title': ['Tổng quan nhiệm kỳ {term}', 'Overview, term {term}'],
  'sum.total': ['Tổng số đại hội', 'Congresses'],
  'sum.held': ['Đã tổ chức', 'Held'],
  'sum.completed': ['Hoàn thành', 'Completed'],
  'sum.rate': ['Tỷ lệ đã tổ chức', 'Held so far'],
  'sum.overdue': ['Quá hạn', 'Overdue'],
  'sum.dueSoon': ['Sắp đến hạn (14 ngày)', 'Due within 14 days'],
  'sum.reports': ['Báo cáo lên cấp trên', 'Reports to the level above'],
  'sum.reportsOverdue': ['Báo cáo quá hạn', 'Reports overdue'],

  'report.title': ['Báo cáo lên cấp trên', 'Report to the level above'],
  'report.state': ['Trạng thái', 'State'],
  'report.DRAFT': ['Chưa gửi', 'Not sent'],
  'report.SUBMITTED': ['Chờ duyệt', 'Waiting for approval'],
  'report.APPROVED': ['Đã duyệt', 'Approved'],
  'report.RETURNED': ['Bị trả lại', 'Returned'],
  'report.REOPENED': ['Mở lại để sửa', 'Reopened'],
  'report.submitted': ['Gửi lúc', 'Sent'],
  'report.decided': ['Quyết định lúc', 'Decided'],
  'report.reason.RETURNED': ['Lý do trả lại:', 'Why it was returned:'],
  'report.reason.REOPENED': ['Lý do mở lại:', 'Why it was reopened:'],
  'report.missing': ['Còn thiếu trước khi gửi:', 'Still missing before it can be sent:'],
  'report.missingChildren': ['{n} đơn vị cấp dưới chưa được duyệt báo cáo', '{n} committees below without an approved report'],
  'report.missingResults': ['Kết quả đại hội', 'The congress results'],
  'report.complete': ['Đã đủ điều kiện để gửi.', 'Complete: ready to send.'],
  'report.do.submit': ['Gửi báo cáo lên cấp trên', 'Send the report up'],
  'report.do.approve': ['Duyệt', 'Approve'],
  'report.do.return': ['Trả lại', 'Return'],
  'report.do.reopen': ['Mở lại', 'Reopen'],
  'report.confirm.return': ['Xác nhận trả lại', 'Confirm return'],
  'report.confirm.reopen': ['Xác nhận mở lại', 'Confirm reopening'],
  'report.reasonLabel': ['Lý do (bắt buộc)', 'Reason (required)'],
  'report.reasonHint': ['Đơn vị sẽ thấy lý do này để sửa và gửi lại.', 'The committee sees this to fix it and send it again.'],
  'report.done.submit': ['Đã gửi báo cáo của {name} lên cấp trên.', 'The report of {name} was sent up.'],
  'report.done.approve': ['Đã duyệt báo cáo của {name}.', 'The report of {name} was approved.'],
  'report.done.return': ['Đã trả lại báo cáo của {name}.', 'The report of {name} was returned.'],
  'report.done.reopen': ['Đã mở lại báo cáo của {name}.', 'The report of {name} was reopened.'],
  'report.replayed': ['Việc này đã được ghi nhận trước đó.', 'This was already recorded.'],
  'report.stale': ['Báo cáo đã thay đổi kể từ khi bạn tải. Đang tải lại.', 'The report changed since you loaded it. Reloading.'],
  'report.locked': ['Báo cáo đã gửi lên cấp trên: số liệu được khóa cho đến khi báo cáo bị trả lại hoặc mở lại.', 'The report has been sent up: its figures are locked until it is returned or reopened.'],

  'approvals.title': ['Báo cáo chờ duyệt', 'Reports waiting for approval'],
  'approvals.none': ['Không có báo cáo nào đang chờ duyệt.', 'No report is waiting for a decision.'],
  'approvals.count': ['{n} báo cáo đang chờ', '{n} waiting'],
  'approvals.sent': ['{who} gửi lúc {when}', 'Sent by {who}, {when}'],

  'congress.title': ['Đại hội của đơn vị', "This committee's congress"],
  'congress.status': ['Trạng thái', 'Status'],
  'congress.deadline': ['Hạn chót', 'Deadline'],
  'congress.heldOn': ['Ngày tổ chức', 'Held on'],
  'congress.none': ['Chưa có', 'None'],
  'congress.late': ['Trễ {n} ngày', '{n} days late'],
  'congress.update': ['Cập nhật tiến độ', 'Record progress'],
  'congress.noCongress': ['Đơn vị chưa có đại hội trong nhiệm kỳ này.', 'No congress in this term.'],
  'status.NOT_STARTED': ['Chưa bắt đầu', 'Not started'],
  'status.IN_PROGRESS': ['Đang thực hiện', 'In progress'],
  'status.HELD': ['Đã tổ chức', 'Held'],
  'status.COMPLETED': ['Hoàn thành', 'Completed'],
  'status.DONE': ['Đã xong', 'Done'],

  'chart.title': ['Số đại hội đã tổ chức theo thời gian', 'Congresses held over time'],
  'chart.desc': ['Đến {date}: {held} trên {total} đại hội đã tổ chức.', 'By {date}: {held} of {total} congresses held.'],
  'chart.empty': ['Chưa có số liệu.', 'No data yet.'],
  'chart.load': ['Tải biểu đồ', 'Load the chart'],

  'ms.title': ['Tiến độ theo bước', 'Progress by milestone'],
  'ms.line': ['{done} xong · {inProgress} đang làm · {notStarted} chưa làm', '{done} done · {inProgress} in progress · {notStarted} not started'],

  'children.title': ['Đơn vị trực thuộc', 'Committees below'],
  'children.caption': ['Đơn vị trực thuộc: {shown} trên {total}. Bấm tiêu đề cột để sắp xếp.', 'Committees below: {shown} of {total}. Use the column headings to sort.'],
  'children.name': ['Tên đơn vị', 'Committee'],
  'children.completion': ['Đã tổ chức', 'Held'],
  'children.overdue': ['Quá hạn', 'Overdue'],
  'children.none': ['Không có đơn vị trực thuộc.', 'No committees below this one.'],
  'children.more': ['Xem thêm', 'Show more'],
  'children.partial': ['Sắp xếp trong {shown} đơn vị đã tải.', 'Sorted among the {shown} loaded.'],
  'children.rateOf': ['{held}/{total}', '{held}/{total}'],

  'overdue.title': ['Đại hội quá hạn', 'Overdue congresses'],
  'overdue.none': ['Không có đại hội nào quá hạn.', 'No congress is overdue.'],
  'overdue.count': ['{n} đại hội quá hạn', '{n} overdue'],
  'overdue.deadline': ['Hạn {date}', 'Due {date}'],

  'feed.title': ['Cập nhật gần đây', 'Recent progress'],
  'feed.none': ['Chưa có cập nhật nào.', 'Nothing recorded yet.'],
  'feed.milestone': ['{step}: {status}', '{step}: {status}'],
  'feed.results': ['Đã báo cáo kết quả đại hội', 'Congress results reported'],
  'feed.milestoneLive': ['Ghi nhận bước: {step}', 'Milestone recorded: {step}'],
  'feed.deadline': ['Hạn chót mới: {date}', 'New deadline: {date}'],
  'feed.DIFFICULTY_RAISED': ['Nêu khó khăn mới', 'New difficulty raised'],
  'feed.DIFFICULTY_COMMENTED': ['Ý kiến mới về một khó khăn', 'New comment on a difficulty'],
  'feed.DIFFICULTY_ESCALATED': ['Khó khăn được chuyển lên cấp trên', 'Difficulty escalated'],
  'feed.DIFFICULTY_RESOLVED': ['Khó khăn đã được giải quyết', 'Difficulty resolved'],
  'feed.report_submitted': ['Báo cáo được gửi lên cấp trên', 'Report sent up'],
  'feed.report_approved': ['Báo cáo được duyệt', 'Report approved'],
  'feed.report_returned': ['Báo cáo bị trả lại', 'Report returned'],
  'feed.report_reopened': ['Báo cáo được mở lại', 'Report reopened'],
  'feed.new': ['Mới', 'New'],

  'inbox.title': ['Khó khăn, vướng mắc cần xử lý', 'Difficulties to handle'],
  'inbox.none': ['Không có khó khăn nào đang chờ cấp này.', 'Nothing is waiting at this level.'],
  'inbox.count': ['{n} đang chờ', '{n} waiting'],
  'inbox.raisedAt': ['Nêu tại {where}, {when}', 'Raised at {where}, {when}'],
  'inbox.escalate': ['Chuyển lên cấp trên', 'Escalate'],
  'inbox.comment': ['Góp ý', 'Comment'],
  'inbox.resolve': ['Giải quyết', 'Resolve'],
  'inbox.commentLabel': ['Nội dung góp ý', 'Your comment'],
  'inbox.resolutionLabel': ['Cách đã giải quyết', 'How it was resolved'],
  'inbox.send': ['Gửi', 'Send'],
  'inbox.cancel': ['Hủy', 'Cancel'],
  'inbox.confirmEscalate': ['Xác nhận chuyển lên cấp trên', 'Confirm escalation'],
  'inbox.escalated': ['Đã chuyển lên cấp trên.', 'Escalated to the level above.'],
  'inbox.resolved': ['Đã đánh dấu là đã giải quyết.', 'Marked as resolved.'],
  'inbox.commented': ['Đã gửi góp ý.', 'Comment sent.'],
  'inbox.history': ['Diễn biến', 'History'],
  'inbox.more': ['Xem thêm', 'Show more'],
  'cat.PERSONNEL': ['Nhân sự', 'Personnel'],
  'cat.DOCUMENTS': ['Văn kiện', 'Documents'],
  'cat.ORGANISATION': ['Tổ chức', 'Organisation'],
  'cat.FACILITIES': ['Cơ sở vật chất', 'Facilities'],
  'cat.OTHER': ['Khác', 'Other'],
  'dev.RAISED': ['Nêu khó khăn', 'Raised'],
  'dev.COMMENTED': ['Góp ý', 'Comment'],
  'dev.ESCALATED': ['Chuyển lên cấp trên', 'Escalated'],
  'dev.AUTO_ESCALATED': ['Tự động chuyển lên (quá hạn xử lý)', 'Escalated automatically (no answer in time)'],
  'dev.RESOLVED': ['Giải quyết', 'Resolved'],

  'export.title': ['Xuất báo cáo', 'Export'],
  'export.csv': ['Tải CSV', 'Download CSV'],
  'export.xlsx': ['Tải Excel (.xlsx)', 'Download Excel (.xlsx)'],
  'export.help': ['Mỗi dòng là một đơn vị cấp dưới, kèm số liệu tiến độ.', 'One row per committee below, with its progress figures.'],

  'form.back': ['Quay lại tổng quan', 'Back to the overview'],
  'form.title': ['Cập nhật tiến độ: {name}', 'Record progress: {name}'],
  'form.readOnly': ['Bạn chỉ có quyền xem đơn vị này.', 'You can only view this committee.'],
  'form.version': ['Phiên bản dữ liệu đã tải: {v}', 'Version loaded: {v}'],
  'form.milestone.title': ['Ghi nhận một bước', 'Record a milestone'],
  'form.milestone': ['Bước', 'Milestone'],
  'form.status': ['Trạng thái', 'Status'],
  'form.occurredOn': ['Ngày thực hiện', 'Date'],
  'form.note': ['Ghi chú (không bắt buộc)', 'Note (optional)'],
  'form.submit': ['Ghi nhận', 'Record'],
  'form.sending': ['Đang gửi…', 'Sending…'],
  'form.saved': ['Đã ghi nhận (phiên bản {v}).', 'Recorded (version {v}).'],
  'form.replayed': ['Yêu cầu này đã được ghi nhận trước đó (phiên bản {v}).', 'This was already recorded (version {v}).'],
  'form.results.title': ['Kết quả đại hội', 'Congress results'],
  'form.results.notHeld': ['Chỉ ghi kết quả sau khi đại hội đã tổ chức.', 'Results can be recorded once the congress has been held.'],
  'form.delegatesExpected': ['Số đại biểu được triệu tập', 'Delegates convened'],
  'form.delegatesPresent': ['Số đại biểu có mặt', 'Delegates present'],
  'form.membersElected': ['Số cấp ủy viên được bầu', 'Committee members elected'],
  'form.women': ['Trong đó nữ', 'Of whom women'],
  'form.under40': ['Trong đó dưới 40 tuổi', 'Of whom under 40'],
  'form.ethnicMinority': ['Trong đó người dân tộc thiểu số', 'Of whom ethnic minority'],
  'form.secretaryDirectlyElected': ['Bầu bí thư trực tiếp tại đại hội', 'Secretary elected directly at the congress'],
  'form.delegatesToHigherCongress': ['Số đại biểu đi dự đại hội cấp trên', 'Delegates to the congress above'],
  'form.difficulty.title': ['Nêu khó khăn, vướng mắc', 'Raise a difficulty'],
  'form.dtitle': ['Tiêu đề', 'Title'],
  'form.description': ['Mô tả', 'Description'],
  'form.category': ['Loại', 'Category'],
  'form.raised': ['Đã gửi khó khăn lên cấp {name}.', 'Difficulty sent to {name}.'],
  'form.conflict': ['Dữ liệu đã được người khác cập nhật sau khi bạn tải trang (phiên bản hiện tại {v}). Tình trạng hiện nay:', 'Someone changed this since you loaded it (current version {v}). This is how it stands now:'],
  'form.retryWithCurrent': ['Gửi lại trên dữ liệu mới', 'Send again on the current data'],
  'form.required': ['Bắt buộc.', 'Required.'],
  'form.steps': ['Các bước hiện tại', 'Milestones now'],

  'typed.NotFound': ['Không tìm thấy.', 'Not found.'],
  'typed.Forbidden': ['Bạn không có quyền thực hiện việc này.', 'Your role does not allow this.'],
  'typed.ValidationError': ['Dữ liệu chưa hợp lệ.', 'Please check the input.'],
  'typed.ReportLocked': ['Báo cáo đã gửi lên cấp trên nên số liệu đang bị khóa.', 'The report has been sent up: its figures are locked.'],
  'typed.ReportIncomplete': ['Báo cáo chưa đủ để gửi:', 'The report is not complete yet:'],
  'typed.Conflict': ['Xung đột với dữ liệu hiện có.', 'This conflicts with the current data.'],
  'typed.VersionConflict': ['Dữ liệu đã thay đổi kể từ khi bạn tải. Đã tải lại; vui lòng kiểm tra rồi thao tác lại.', 'It changed since you loaded it. Reloaded: please check and try again.'],
  'typed.detail': ['Máy chủ cho biết: {msg}', 'The server says: {msg}'],

};

// The default template's milestone names, for English; other templates show the server's names.
const MILESTONE_EN = {
  plan_issued: 'Congress plan issued',
  documents_drafted: 'Documents drafted',
  documents_commented: 'Comments on the draft documents',
  personnel_plan_approved: 'Personnel plan approved',
  congress_held: 'Congress held',
  results_reported: 'Results reported',
};

let current = readStored();
const listeners = new Set();

function readStored() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored === 'en' ? 'en' : 'vi';
  } catch {
    return 'vi';
  }
}

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === 'en' ? 'en' : 'vi';
  try {
    localStorage.setItem(STORAGE_KEY, current);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  document.documentElement.lang = current;
  for (const listener of listeners) listener(current);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

export function t(key, params) {
  const text = STRINGS[key]?.[current === 'en' ? 1 : 0] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function has(key) {
  return key in STRINGS;
}

/** A milestone's name: the server's (Vietnamese data) unless English knows the code. */
export function milestoneName(code, serverName) {
  if (current === 'en' && MILESTONE_EN[code]) return MILESTONE_EN[code];
  return serverName || code;
}

const locale = () => (current === 'en' ? 'en-GB' : 'vi-VN');

export function num(value) {
  return new Intl.NumberFormat(locale()).format(value ?? 0);
}

export function pct(rate) {
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(rate ?? 0);
}

/** A plain day (YYYY-MM-DD), shown as written: no time zone may move it. */
export function day(isoDate) {
  if (!isoDate) return '';
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(Date.UTC(y, m - 1, d));
}

export function shortDay(isoDate) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { month: 'short', year: '2-digit', timeZone: 'UTC' }).format(Date.UTC(y, m - 1, d));
}

/** A moment, in Vietnam's time (where the congresses are). */
export function moment(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'Asia/Ho_Chi_Minh',
  }).format(new Date(iso));
}

/** Today in Vietnam, as YYYY-MM-DD. */
/** A moment's hour and minute (HH:MM) in Vietnam's time. */
export function clock(ms) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'Asia/Ho_Chi_Minh' }).format(ms);
}

export function todayInVietnam() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date());
}

document.documentElement.lang = current;
